"""The reporting nameko service: tracked consumers of members and meetings, and the compliance queries.

Thin: each route parses nothing itself; services/reporting/queries.py does the work on one read of the store.
Answers carry an ETag made of the sources' positions (what the projection has applied), the report date and
the request's URL, so a client polling a roll-up gets 304 until an event changes it. Roll-ups are kept in
memory under that same key (answers.py): concurrent readers of one dashboard share one computation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from services.reporting import access
from services.reporting.answers import AnswerCache, waiting
from services.reporting.compliance import projection, schema
from services.reporting.gauges import ComplianceGauges
from services.reporting.queries import Queries, unit_arg
from shared import i18n, openapi
from shared.access import principal
from shared.auth import authorize, visible
from shared.clock import vietnam_today
from shared.cooperative import collector_held
from shared.errors import NotFound
from shared.nameko_ext import TrackedViews, tracked_consumer
from shared.readiness import Readiness, live_response, ready_response
from shared.web import http, json_response, metrics_response, ops_http

SOURCES = ("members", "meetings")
REPORTS, EVENTS = "reports:read", "events:read"


def language(request: Request) -> str:
    """The answer's language. (nameko runs the method in a worker greenthread, which does not see the
    handler's context variable, so it is negotiated again from the request.)"""
    return i18n.negotiate(request.args.get("lang"), request.headers.get("Accept-Language"))


def _authorize_unit(caller: Any, args: dict[str, str], q: Queries) -> None:
    """The unit a query or an export is asked for (`?unit=`, already defaulted to the caller's) must be within
    the caller's reach."""
    authorize(caller, REPORTS, unit_path=access.unit_path(q.tree, unit_arg(args, q.tree), q.today))


class ReportingService:
    name = "reporting"

    views: Any = TrackedViews(schema.DDL, projection.project, projection.project_many)
    gauges: Any = ComplianceGauges()  # city-wide figures on /metrics for the operators' dashboard
    readiness: Any = Readiness()
    answers: Any = AnswerCache()  # roll-ups by store position (None: CHIBO.answer_cache_size 0)

    @tracked_consumer("members")
    def on_members_event(self, events: list[tuple[Any, Any]]) -> None:
        self.views.apply_many(events)  # the messages already delivered, in one transaction

    @tracked_consumer("meetings")
    def on_meetings_event(self, events: list[tuple[Any, Any]]) -> None:
        self.views.apply_many(events)  # the messages already delivered, in one transaction

    def _answer(self, request: Request, query: Callable[[Queries, str], Any]) -> Response:
        """Run `query` on one consistent read; 304 when the client's ETag still holds.

        The ETag covers the caller's role and unit too: the same URL answers each reach differently. `query` is
        given the ETag's key as well, under which an answer may be kept (answers.py)."""
        today = vietnam_today()

        def attempt() -> tuple[dict[str, int], str, Any]:
            with self.views.store.read() as sql:
                positions, raw = self._key(request, sql, today)
                if request.if_none_match.contains(raw):
                    return positions, raw, None
                with collector_held():  # every answer: no full collection of what the process keeps meanwhile
                    return positions, raw, query(Queries(sql, today), raw)

        positions, raw, body = waiting(attempt)
        tag = f'"{raw}"'
        if body is None:
            return Response(status=304, headers={"ETag": tag})
        if isinstance(body, dict):
            body = body | {"positions": positions}  # a copy: the body may be a kept answer
        return json_response(body, headers={"ETag": tag, "Cache-Control": "private, no-cache",
                                            "Vary": "Authorization"})

    def _key(self, request: Request, sql: Any, today: Any) -> tuple[dict[str, int], str]:
        """The positions `sql` sees, and the key of this request's answer on them: positions, report date,
        language, URL, the caller's role and unit (the ETag, and the key of a kept answer)."""
        # in this read's own transaction: a second connection per request (store.position) deadlocks the
        # pool once as many requests hold a read as it has connections (psycopg on eventlet's hub)
        positions = {s: self.views.store.position_in(sql, s) for s in SOURCES}
        caller = principal(request)
        raw = hashlib.sha256(f"{positions}|{today}|{language(request)}|{request.full_path}|{caller.role}"
                             f"|{caller.unit_id}".encode()).hexdigest()[:32]
        return positions, raw

    def _scoped(self, request: Request, run: Callable[[Queries, dict[str, str]], Any], keep: bool = False) -> Response:
        """A query for one unit (`?unit=`, default the caller's own): refused (403) outside the caller's reach.
        `keep`: the answer may be kept in memory under its key (only answers with no personal data: roll-ups);
        access is checked on every request all the same."""
        caller = principal(request)
        args = access.scoped_args(caller, request.args)

        def query(q: Queries, key: str) -> Any:
            _authorize_unit(caller, args, q)
            if keep and self.answers is not None:
                return self.answers.get(key, lambda: run(q, args))
            return run(q, args)

        return self._answer(request, query)

    def _about(self, request: Request, action: str, where: Callable[[Queries], list[str]],
               run: Callable[[Queries], Any]) -> Response:
        """A query about one cell, meeting or member: refused (403) when it lies outside the caller's reach."""

        def query(q: Queries, _key: str) -> Any:
            authorize(principal(request), action, unit_path=where(q))
            return run(q)

        return self._answer(request, query)

    @http("GET", "/reporting/compliance/rollup", action=REPORTS)
    def compliance_rollup(self, request: Request) -> Any:
        """?unit=<id or code>&period=2026|2026-Q1|2026-03&tree=period|today&by=block|children|none&block="""
        return self._scoped(request, lambda q, args: q.rollup(args, language(request)), keep=True)

    @http("GET", "/reporting/compliance/drill", action=REPORTS)
    def compliance_drill(self, request: Request) -> Any:
        """The same scope as the roll-up plus ?figure=<name>: the cells, meetings, resolutions or members behind."""
        return self._scoped(request, lambda q, args: q.drill(args))

    @http("GET", "/reporting/compliance/cell-months", action=REPORTS)
    def cell_months(self, request: Request) -> Any:
        """?from=YYYY-MM&to=YYYY-MM&unit=&block=&tree=: per cell and month, the month's meetings and figures."""
        return self._scoped(request, lambda q, args: q.cell_months(args))

    @http("GET", "/reporting/compliance/member-years", action=REPORTS)
    def member_years(self, request: Request) -> Any:
        """?year=&unit=&tree=&flagged=true: per member and year, attendance, absences, dues and flags."""
        return self._scoped(request, lambda q, args: q.member_years(args))

    @http("GET", "/reporting/compliance/supervisors", action=REPORTS)
    def supervisors(self, request: Request) -> Any:
        """?unit=&period=&tree=&block=: each assigned committee member's meetings and attendance."""
        return self._scoped(request, lambda q, args: q.supervisors(args))

    @http("GET", "/reporting/exports/<what>.<fmt>", action=REPORTS)
    def export(self, request: Request, what: str, fmt: str) -> Any:
        """rollup.xlsx / rollup.csv (the roll-up's parameters) and flagged.xlsx / flagged.csv (?year=&unit=), as
        party documents; `?place=` for the date line, `?delimiter=semicolon` for a CSV for Excel in Vietnamese."""
        if what not in ("rollup", "flagged") or fmt not in ("xlsx", "csv"):
            raise NotFound("export", f"no export {what}.{fmt}: rollup or flagged, as xlsx or csv",
                           rule="export.unknown",
                           vi=f"không có bản xuất {what}.{fmt}: rollup hoặc flagged, dạng xlsx hoặc csv")
        lang = language(request)
        caller = principal(request)
        args = access.scoped_args(caller, request.args)

        def attempt() -> tuple[bytes, str, str]:
            with self.views.store.read() as sql, collector_held():
                q = Queries(sql, vietnam_today())
                _authorize_unit(caller, args, q)
                if what == "rollup" and self.answers is not None:  # figures and unit names: kept, as a roll-up
                    return self.answers.get(self._key(request, sql, q.today)[1],
                                            lambda: q.export(what, fmt, lang, args))
                return q.export(what, fmt, lang, args)

        data, mime, name = waiting(attempt)
        return Response(data, headers={"Content-Type": mime,
                                       "Content-Disposition": f'attachment; filename="{name}"'})

    @http("GET", "/reporting/units", action=REPORTS)
    def units(self, request: Request) -> Any:
        caller = principal(request)
        return self._answer(request, lambda q, _key: q.units(
            request.args, keep=lambda unit_id: visible(caller, access.unit_path(q.tree, unit_id, q.today))))

    @http("GET", "/reporting/cells/<cell_id>", action=REPORTS)
    def cell(self, request: Request, cell_id: str) -> Any:
        return self._about(request, REPORTS, lambda q: access.unit_path(q.tree, cell_id, q.today),
                           lambda q: q.cell(cell_id, request.args))

    @http("GET", "/reporting/cells/<cell_id>/events", action=EVENTS)
    def cell_events(self, request: Request, cell_id: str) -> Any:
        return self._about(request, EVENTS, lambda q: access.unit_path(q.tree, cell_id, q.today),
                           lambda q: q.events("cell_id", cell_id, request.args))

    @http("GET", "/reporting/units/<unit_id>/events", action=EVENTS)
    def unit_events(self, request: Request, unit_id: str) -> Any:
        """The audit trail of any unit (a ward, a district, a cell): every event about it, who recorded it, when,
        from which request; corrections with their reasons."""
        return self._about(request, EVENTS, lambda q: access.unit_path(q.tree, unit_id, q.today),
                           lambda q: q.events("cell_id", unit_id, request.args))

    @http("GET", "/reporting/meetings/<meeting_id>", action=REPORTS)
    def meeting(self, request: Request, meeting_id: str) -> Any:
        return self._about(request, REPORTS, lambda q: access.meeting_path(q.sql, q.tree, meeting_id, q.today),
                           lambda q: q.meeting(meeting_id))

    @http("GET", "/reporting/meetings/<meeting_id>/events", action=EVENTS)
    def meeting_events(self, request: Request, meeting_id: str) -> Any:
        return self._about(request, EVENTS, lambda q: access.meeting_path(q.sql, q.tree, meeting_id, q.today),
                           lambda q: q.events("meeting_id", meeting_id, request.args))

    @http("GET", "/reporting/members/<member_id>", action=REPORTS)
    def member(self, request: Request, member_id: str) -> Any:
        return self._about(request, REPORTS, lambda q: access.member_path(q.sql, q.tree, member_id, q.today),
                           lambda q: q.member(member_id, request.args))

    @http("GET", "/reporting/members/<member_id>/events", action=EVENTS)
    def member_events(self, request: Request, member_id: str) -> Any:
        return self._about(request, EVENTS, lambda q: access.member_path(q.sql, q.tree, member_id, q.today),
                           lambda q: q.events("member_id", member_id, request.args))

    def _positions(self) -> dict[str, int]:
        return {s: self.views.store.position(s) for s in SOURCES}

    @http("GET", "/reporting/openapi.json", action="api:read")
    def openapi(self, request: Any) -> Any:
        """This service's OpenAPI 3.1 document, generated from its routes and request models."""
        return openapi.document(type(self), title="chibo reporting")

    def _health(self) -> dict[str, Any]:
        positions: dict[str, int] = {}
        readiness = self.readiness.report(lambda: positions.update(self._positions()))
        return {"service": self.name, "status": "ok", "positions": positions, **readiness}

    @ops_http("GET", "/reporting/health")
    def health(self, request: Request) -> Any:
        return json_response(self._health())

    @ops_http("GET", "/reporting/ready")
    def ready(self, request: Request) -> Any:
        return ready_response(self._health())

    @ops_http("GET", "/reporting/live")
    def live(self, request: Request) -> Any:
        return live_response(self.name)

    @ops_http("GET", "/reporting/metrics")
    def metrics(self, request: Request) -> Any:
        return metrics_response()
