"""The web app as a nameko service (`web`): thin HTTP entrypoints over services/web's page modules.

In the embedded run it shares the process's port with the three APIs (http://127.0.0.1:8000/ is its sign-in
page); in the distributed run it is its own process (`chibo run web`) with the APIs' addresses in CHIBO.apis.
Its routes are public (a sign-in page must be): each page checks the session cookie itself, and every figure
it shows comes from the APIs called with the user's own token.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Request, Response

from services.web import audit, cells, dashboard, register, signin
from services.web.api import api_urls
from services.web.session import Sessions
from services.web.site import Site, redirect, static_file
from shared import metrics
from shared.access import _close_store, _open_store, is_embedded
from shared.auth import auth_settings
from shared.readiness import live_response, ready_response
from shared.web import ProcessWebServer, json_response, metrics_response, ops_http

log = logging.getLogger(__name__)


class PageHttp(HttpRequestHandler):
    """A page route: HTML out, no bearer token needed at the door (the page checks the session cookie)."""

    server = ProcessWebServer()

    def handle_request(self, request: Request) -> Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        metrics.HTTP_REQUESTS.labels("web", self.url, f"{response.status_code // 100}xx").inc()
        metrics.HTTP_DURATION.labels("web", self.url).observe(time.perf_counter() - started)
        return response

    def response_from_result(self, result: Any) -> Response:
        return result

    def response_from_exception(self, exc: BaseException) -> Response:
        log.exception("unhandled error in %s %s", self.method, self.url, exc_info=exc)
        return Response("<!doctype html><title>500</title><p>Lỗi hệ thống; đã được ghi nhận. / Internal error.</p>",
                        status=500, mimetype="text/html")


page = PageHttp.decorator


class SiteProvider(DependencyProvider):
    def setup(self) -> None:
        config = self.container.config
        self.store = _open_store(config)
        settings = auth_settings(config, embedded=is_embedded(config))
        secure = bool((config.get("CHIBO") or {}).get("secure_cookies"))
        self.site = Site(Sessions(settings, self.store, secure=secure), api_urls(config))

    def stop(self) -> None:
        _close_store(self.store)

    def get_dependency(self, worker_ctx: Any) -> Site:
        return self.site


class WebService:
    name = "web"
    site: Any = SiteProvider()

    @ops_http("GET", "/web/health")
    def health(self, request: Request) -> Response:
        """Up when it serves (it keeps no state but the auth store it shares with the APIs)."""
        return json_response({"service": "web", "status": "ok"})

    @ops_http("GET", "/web/live")
    def live(self, request: Request) -> Response:
        return live_response("web")

    @ops_http("GET", "/web/ready")
    def ready(self, request: Request) -> Response:
        """Ready when the auth store (accounts, sessions) answers; the web app uses no broker."""
        try:
            self.site.sessions.store.ping()
            database = "ok"
        except Exception as exc:
            database = f"down: {type(exc).__name__}: {exc}"[:300]
        return ready_response({"service": "web", "ready": database == "ok", "database": database})

    @ops_http("GET", "/web/metrics")
    def metrics(self, request: Request) -> Response:
        return metrics_response()

    @page("GET", "/")
    def root(self, request: Request) -> Response:
        return redirect("/web/", 302)

    @page("GET", "/web/")
    def home(self, request: Request) -> Response:
        return self.site.run(request, signin.home)

    @page("GET", "/web/static/<name>")
    def static(self, request: Request, name: str) -> Response:
        return static_file(name)

    @page("GET", "/web/sign-in")
    def sign_in_form(self, request: Request) -> Response:
        return self.site.run(request, signin.form, public=True)

    @page("POST", "/web/sign-in")
    def sign_in(self, request: Request) -> Response:
        return self.site.run(request, signin.submit, public=True)

    @page("POST", "/web/sign-out")
    def sign_out(self, request: Request) -> Response:
        return self.site.run(request, signin.sign_out, public=True)

    @page("GET", "/web/lang")
    def switch_language(self, request: Request) -> Response:
        return signin.switch_language(request)

    @page("GET", "/web/dashboard")
    def dashboard(self, request: Request) -> Response:
        return self.site.run(request, dashboard.dashboard)

    @page("GET", "/web/drill")
    def drill(self, request: Request) -> Response:
        return self.site.run(request, dashboard.drill)

    @page("GET", "/web/export/<what>.<fmt>")
    def export(self, request: Request, what: str, fmt: str) -> Response:
        return self.site.run(request, dashboard.export, what=what, fmt=fmt)

    @page("GET", "/web/cells/<uuid:cell_id>")
    def cell(self, request: Request, cell_id: Any) -> Response:
        return self.site.run(request, cells.cell_page, cell_id=str(cell_id))

    @page("POST", "/web/cells/<uuid:cell_id>/schedule")
    def schedule(self, request: Request, cell_id: Any) -> Response:
        return self.site.run(request, cells.schedule, cell_id=str(cell_id))

    @page("GET", "/web/meetings/<uuid:meeting_id>")
    def meeting(self, request: Request, meeting_id: Any) -> Response:
        return self.site.run(request, cells.meeting_page, meeting_id=str(meeting_id))

    @page("POST", "/web/meetings/<uuid:meeting_id>/<step>")
    def meeting_step(self, request: Request, meeting_id: Any, step: str) -> Response:
        return self.site.run(request, cells.meeting_step, meeting_id=str(meeting_id), step=step)

    @page("GET", "/web/meetings/<uuid:meeting_id>/minutes.<fmt>")
    def minutes(self, request: Request, meeting_id: Any, fmt: str) -> Response:
        return self.site.run(request, cells.minutes, meeting_id=str(meeting_id), fmt=fmt)

    @page("GET", "/web/members")
    def members(self, request: Request) -> Response:
        return self.site.run(request, register.register)

    @page("POST", "/web/members")
    def admit(self, request: Request) -> Response:
        return self.site.run(request, register.admit)

    @page("GET", "/web/members/<uuid:member_id>")
    def member(self, request: Request, member_id: Any) -> Response:
        return self.site.run(request, register.member_page, member_id=str(member_id))

    @page("POST", "/web/members/<uuid:member_id>/<action>")
    def member_action(self, request: Request, member_id: Any, action: str) -> Response:
        return self.site.run(request, register.member_action, member_id=str(member_id), action=action)

    @page("POST", "/web/imports")
    def import_register(self, request: Request) -> Response:
        return self.site.run(request, register.import_sheet)

    @page("GET", "/web/audit")
    def audit_index(self, request: Request) -> Response:
        return self.site.run(request, audit.index)

    @page("GET", "/web/audit/<kind>/<uuid:ident>")
    def audit(self, request: Request, kind: str, ident: Any) -> Response:
        return self.site.run(request, audit.history, kind=kind, ident=str(ident))
