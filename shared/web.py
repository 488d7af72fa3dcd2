"""HTTP for nameko services: JSON in and out, 4xx bodies naming the field, one port for many services.

`ProcessWebServer` lets every service container in one process share one listening socket (the embedded
run serves all three services on one port); with one container per process it behaves like nameko's own
WebServer. Routes are prefixed with the service name (`/members/...`) so they never collide.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import eventlet
from eventlet import wsgi
from eventsourcing.persistence import IntegrityError, OperationalError
from nameko.exceptions import BadRequest
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from shared import i18n, metrics
from shared.access import Authenticator, principal
from shared.auth import ACTIONS, permit
from shared.errors import DomainError
from shared.idempotency import HEADER, CommandKey
from shared.params import int_arg, uuid_arg
from shared.ratelimit import retry_after

log = logging.getLogger(__name__)


class _Hub:
    """One listening socket and the servers (one per container) whose routes it dispatches to."""

    def __init__(self, bind_addr: Any):
        self.servers: list[ProcessWebServer] = []
        self.sock = eventlet.listen(bind_addr)
        self.sock.settimeout(None)
        self.url_map = Map()
        self.wsgi_server = wsgi.Server(
            self.sock, self.sock.getsockname(), self, protocol=HttpOnlyProtocol,
            log=logging.getLogger("chibo.http.access"),
        )
        self.accepting = True
        self.gt = eventlet.spawn(self._accept)

    def _accept(self) -> None:
        while self.accepting:
            try:
                sock, addr = self.sock.accept()
            except OSError:
                return
            sock.settimeout(self.wsgi_server.socket_timeout)
            eventlet.spawn(self.wsgi_server.process_request, [addr, sock, wsgi.STATE_IDLE])

    def rebuild(self) -> None:
        url_map = Map()
        for server in self.servers:
            for provider in server._providers:
                rule = provider.get_url_rule()
                rule.endpoint = provider
                url_map.add(rule)
        self.url_map = url_map

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            rv = provider.handle_request(request)
        except WerkzeugNotFound:
            rv = json_response({"error": "not_found", "message": f"no route {request.path}"}, 404)
        except HTTPException as exc:
            rv = json_response({"error": exc.name, "message": exc.description}, exc.code or 500)
        return rv(environ, start_response)

    def close(self) -> None:
        self.accepting = False
        self.sock.close()
        self.gt.kill()


_HUBS: dict[Any, _Hub] = {}


class ProcessWebServer(WebServer):
    """The public port (WEB_SERVER_ADDRESS): every route there requires authentication."""

    def start(self) -> None:
        hub = _HUBS.get(self.bind_addr)
        if hub is None:
            hub = _HUBS[self.bind_addr] = _Hub(self.bind_addr)
        hub.servers.append(self)
        hub.rebuild()

    def _leave_hub(self) -> None:
        hub = _HUBS.get(self.bind_addr)
        if hub is not None and self in hub.servers:
            hub.servers.remove(self)
            hub.rebuild()
            if not hub.servers:
                hub.close()
                del _HUBS[self.bind_addr]

    def stop(self) -> None:
        self._leave_hub()
        super(WebServer, self).stop()  # ProviderCollector: wait for our routes to unregister

    def kill(self) -> None:
        # On kill, entrypoints do not unregister: leave without waiting for them.
        self._leave_hub()


class OpsWebServer(ProcessWebServer):
    """The operator port (CHIBO.ops_address): health and metrics, unauthenticated, kept off the public network
    (loopback in the embedded run, the cluster's internal network in a deployment)."""

    def setup(self) -> None:
        from shared.metrics import record_build_info

        record_build_info()  # chibo_build_info on this process's /metrics
        super().setup()

    @property
    def bind_addr(self) -> Any:
        from nameko.web.server import parse_address

        address = (self.container.config.get("CHIBO") or {}).get("ops_address")
        if not address:
            raise ValueError("CHIBO.ops_address (the operator port for health and metrics) is not configured")
        return parse_address(str(address))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def error_body(exc: BaseException, lang: str = i18n.DEFAULT) -> tuple[int, dict[str, Any]]:
    """HTTP status and JSON body for an exception: the fields at fault, in the user's language."""
    vi = lang == "vi"
    if isinstance(exc, ValidationError):
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": i18n.validation_message(e, lang),
             "rule": e["type"]}
            for e in exc.errors()
        ]
        return 422, {"error": "validation_failed", "message": fields[0]["message"], "fields": fields}
    if isinstance(exc, DomainError):
        return exc.status, {"error": "rejected", "message": exc.message_in(lang), "fields": [exc.to_json(lang)]}
    if isinstance(exc, IntegrityError):
        return 409, {"error": "conflict", "fields": [], "message": (
            "bản ghi vừa bị thay đổi đồng thời; hãy thử lại" if vi else "the record was changed concurrently; retry")}
    if isinstance(exc, BadRequest | ValueError):
        return 400, {"error": "bad_request", "message": str(exc), "fields": []}
    if isinstance(exc, OperationalError):  # the database did not answer, or no pooled connection came in time
        return 503, {"error": "unavailable", "fields": [], "message": (
            "cơ sở dữ liệu đang bận hoặc không trả lời; hãy thử lại" if vi else
            "the database is busy or not answering; retry")}
    return 500, {"error": "internal", "fields": [], "message": (
        "lỗi hệ thống; đã được ghi nhận" if vi else "internal error; it has been logged")}


class JsonHttp(HttpRequestHandler):
    """A route of the public port. `action` (required: deny by default) is what the caller must be allowed to
    do (shared/auth.py ACTIONS); the unit is checked by the service method (shared/access.py)."""

    server = ProcessWebServer()
    auth = Authenticator()

    def __init__(self, method: str, url: str, body: type[BaseModel] | None = None, *, action: str | None,
                 **kwargs: Any):
        # `body`: the request model, for the service's OpenAPI document (shared/openapi.py)
        self.body = body
        if action is not None and action not in ACTIONS:
            raise ValueError(f"{method} {url}: unknown action {action!r}")
        self.action = action
        # Refusals are answers, not faults: nameko logs expected exceptions without a traceback.
        kwargs.setdefault("expected_exceptions", (DomainError, ValidationError, BadRequest))
        super().__init__(method, url, **kwargs)

    def _admit(self, request: Request) -> Response | None:
        """Authenticate, throttle and check the action; None when the request may go on to the method."""
        if self.action is None:
            return None
        try:
            request.principal = self.auth.authenticate(request)
            wait = self.auth.throttle(request.principal)
            if wait:
                vi = i18n.current.get() == "vi"
                return json_response({"error": "rate_limited", "fields": [], "message": (
                    "quá nhiều yêu cầu; hãy thử lại sau" if vi else "too many requests; retry later")}, 429,
                    headers={"Retry-After": retry_after(wait)})
            permit(request.principal, self.action)
        except DomainError as exc:
            response = self.response_from_exception(exc)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="chibo"'
            return response
        return None

    def handle_request(self, request: Request) -> Response:
        started = time.perf_counter()
        i18n.current.set(i18n.negotiate(request.args.get("lang"), request.headers.get("Accept-Language")))
        response = self._admit(request) or super().handle_request(request)
        service = self.container.service_name
        metrics.HTTP_REQUESTS.labels(service, self.url, f"{response.status_code // 100}xx").inc()
        metrics.HTTP_DURATION.labels(service, self.url).observe(time.perf_counter() - started)
        return response

    def response_from_result(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        status = 200
        if isinstance(result, tuple):
            status, result = result
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        return json_response(result, status)

    def response_from_exception(self, exc: BaseException) -> Response:
        status, body = error_body(exc, i18n.current.get())
        if status >= 500:
            log.exception("unhandled error in %s %s", self.method, self.url, exc_info=exc)
        return json_response(body, status, headers={"Retry-After": "1"} if status == 503 else None)


http = JsonHttp.decorator


class OpsHttp(JsonHttp):
    """A route of the operator port: health and metrics, no authentication (the port is not public)."""

    server = OpsWebServer()

    def __init__(self, method: str, url: str, **kwargs: Any):
        super().__init__(method, url, action=None, **kwargs)


ops_http = OpsHttp.decorator


MAX_JSON_BYTES = 1024 * 1024  # a command is a few kB; a whole meeting's attendance well under 100 kB


class BodyTooLarge(DomainError):
    status = 413


def read_json(request: Request) -> Any:
    """The request body as JSON, or BadRequest naming the problem; 413 naming `body` above MAX_JSON_BYTES
    (checked on the declared length and, for a body sent without one, while reading)."""
    size = f"{MAX_JSON_BYTES // 1024} kB"
    too_large = BodyTooLarge("body", f"is larger than {size}", rule="body.size", vi=f"nội dung lớn hơn {size}")
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise too_large
    request.max_content_length = MAX_JSON_BYTES
    try:
        text = request.get_data(as_text=True)
    except RequestEntityTooLarge:
        raise too_large from None
    try:
        return json.loads(text or "null")
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise BadRequest(f"body is not valid JSON ({exc.msg} at {where}) / nội dung không phải JSON hợp lệ") from exc


def parse_body(model: type[BaseModel], request: Request) -> Any:
    data = read_json(request)
    if data is None:
        raise BadRequest("a JSON body is required / cần có nội dung JSON")
    return model.model_validate(data)


def query_int(request: Request, name: str, default: int, minimum: int = 0, maximum: int = 10_000) -> int:
    return int_arg(request.args, name, default, minimum, maximum)


def query_date(request: Request, name: str = "date", default: dt.date | None = None) -> dt.date | None:
    """`?name=YYYY-MM-DD`, or `default` when absent; a 422 naming the parameter when it is not a date."""
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise DomainError(name, f"must be a date YYYY-MM-DD, not {raw!r}", rule="date_parsing",
                          vi=f"không phải ngày hợp lệ (YYYY-MM-DD): {raw!r}") from None


def query_uuid(request: Request, name: str) -> uuid.UUID | None:
    """`?name=<uuid>`, or None when absent; a 422 naming the parameter when it is not an id."""
    raw = request.args.get(name)
    return uuid_arg(name, raw) if raw else None


def command_key(request: Request, cmd: BaseModel | None = None) -> CommandKey | None:
    """The request's `Idempotency-Key` bound to its route and body, or None when the client sent none."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not 1 <= len(key) <= 200:
        raise DomainError(HEADER, "must be 1 to 200 characters", rule="idempotency.key_length",
                          vi="phải dài từ 1 đến 200 ký tự")
    body = cmd.model_dump(mode="json") if cmd is not None else None
    return CommandKey.of(key, f"{request.method} {request.path}", body)


def idempotent(app: Any, request: Request, cmd: BaseModel | None, run: Callable[[CommandKey | None], Any],
               show: Callable[[Any], Any], status: int = 201, shown: Callable[[Any], Any] | None = None) -> Response:
    """Run a command once per idempotency key: a repeat answers the first result, marked as replayed.

    `run(key)` records the command (passing `key` on to `app.record`) and returns its result: the result's id,
    which `show(id)` renders, or what `shown(result)` renders when given (a repeat has only the id).
    """
    key = command_key(request, cmd)
    prior = app.prior_result(key)
    if prior is not None:
        return json_response(show(prior), status, headers={"Idempotent-Replayed": "true"})
    result = run(key)
    return json_response(shown(result) if shown is not None else show(result), status)


def command_response(app: Any, request: Request, model: type[BaseModel], command: Callable[..., Any],
                     show: Callable[[Any], Any], *, guard: Callable[[Any], None],
                     after: Callable[[], None] | None = None, status: int = 200,
                     shown: Callable[[Any], Any] | None = None, **args: Any) -> Response:
    """A command endpoint: parse and validate the body, check it, run `command` once per idempotency key,
    answer `show`.

    `guard(cmd)` authorizes the validated command (the units it touches, shared/access.py) and raises Forbidden;
    `command(**args, **body, by=, correlation_id=, key=)` records in one transaction, with the authenticated
    caller as the actor of its events, and returns the aggregate it changed; `after` runs once it is recorded
    (a relay nudge). The answer is `show(aggregate id)`, or `shown(aggregate)` when given: the aggregate as the
    command left it, without loading it again (a repeated idempotency key still answers `show(id)`).
    """
    cmd = parse_body(model, request)
    guard(cmd)
    actor = principal(request).subject

    def run(key: CommandKey | None) -> Any:
        result = command(**args, **cmd.model_dump(), by=actor, correlation_id=correlation_id(request), key=key)
        if after is not None:
            after()
        return result if shown is not None else result.id

    return idempotent(app, request, cmd, run, show, status=status, shown=shown)


def correlation_id(request: Request) -> str:
    """The caller's X-Correlation-Id, or a new one; stored on every event the request records."""
    given = request.headers.get("X-Correlation-Id", "").strip()
    return given[:200] if given else str(uuid.uuid4())


def notifications_response(reader: Any, request: Request) -> Response:
    """GET .../notifications?after=N&limit=M: published events after position N, for gap filling and replay.

    `last` is the source's highest notification id (published or not): a replay's total for its progress bar.
    Read before the page, so it never claims less than the page holds.
    """
    after = query_int(request, "after", 0, maximum=2**62)
    limit = query_int(request, "limit", 100, minimum=1, maximum=1000)
    last = reader.app.recorder.max_notification_id() or 0
    items = [e.to_json() for e in reader.page(after, limit)]
    last = max([last, *(i["position"] for i in items)])
    return json_response({"source": reader.source, "after": after, "last": last, "items": items})


def metrics_response() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})
