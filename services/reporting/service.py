"""The reporting nameko service: tracked consumers of members and meetings, and the compliance queries.

Thin: each route parses nothing itself; services/reporting/queries.py does the work on one read of the store.
Answers carry an ETag made of the sources' positions (what the projection has applied), the report date and
the request's URL, so a client polling a roll-up gets 304 until an event changes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from services.reporting.compliance import projection, schema
from services.reporting.queries import Queries
from shared import i18n, openapi
from shared.clock import vietnam_today
from shared.errors import NotFound
from shared.nameko_ext import TrackedViews, tracked_consumer
from shared.web import http, json_response, metrics_response

SOURCES = ("members", "meetings")


def language(request: Request) -> str:
    """The answer's language. (nameko runs the method in a worker greenthread, which does not see the
    handler's context variable, so it is negotiated again from the request.)"""
    return i18n.negotiate(request.args.get("lang"), request.headers.get("Accept-Language"))


class ReportingService:
    name = "reporting"

    views: Any = TrackedViews(schema.DDL, projection.project)

    @tracked_consumer("members")
    def on_members_event(self, envelope: Any, payload: Any) -> None:
        self.views.apply(envelope, payload)

    @tracked_consumer("meetings")
    def on_meetings_event(self, envelope: Any, payload: Any) -> None:
        self.views.apply(envelope, payload)

    def _answer(self, request: Request, query: Callable[[Queries], Any]) -> Response:
        """Run `query` on one consistent read; 304 when the client's ETag still holds."""
        today = vietnam_today()
        with self.views.store.read() as sql:
            positions = self._positions()
            raw = hashlib.sha256(
                f"{positions}|{today}|{language(request)}|{request.full_path}".encode()).hexdigest()[:32]
            tag = f'"{raw}"'
            if request.if_none_match.contains(raw):
                return Response(status=304, headers={"ETag": tag})
            body = query(Queries(sql, today))
        if isinstance(body, dict):
            body["positions"] = positions
        return json_response(body, headers={"ETag": tag, "Cache-Control": "no-cache"})

    @http("GET", "/reporting/compliance/rollup")
    def compliance_rollup(self, request: Request) -> Any:
        """?unit=<id or code>&period=2026|2026-Q1|2026-03&tree=period|today&by=block|children|none&block="""
        return self._answer(request, lambda q: q.rollup(request.args, language(request)))

    @http("GET", "/reporting/compliance/drill")
    def compliance_drill(self, request: Request) -> Any:
        """The same scope as the roll-up plus ?figure=<name>: the cells, meetings, resolutions or members behind."""
        return self._answer(request, lambda q: q.drill(request.args))

    @http("GET", "/reporting/compliance/cell-months")
    def cell_months(self, request: Request) -> Any:
        """?from=YYYY-MM&to=YYYY-MM&unit=&block=&tree=: per cell and month, the month's meetings and figures."""
        return self._answer(request, lambda q: q.cell_months(request.args))

    @http("GET", "/reporting/compliance/member-years")
    def member_years(self, request: Request) -> Any:
        """?year=&unit=&tree=&flagged=true: per member and year, attendance, absences, dues and flags."""
        return self._answer(request, lambda q: q.member_years(request.args))

    @http("GET", "/reporting/compliance/supervisors")
    def supervisors(self, request: Request) -> Any:
        """?unit=&period=&tree=&block=: each assigned committee member's meetings and attendance."""
        return self._answer(request, lambda q: q.supervisors(request.args))

    @http("GET", "/reporting/exports/<what>.<fmt>")
    def export(self, request: Request, what: str, fmt: str) -> Any:
        """rollup.xlsx / rollup.csv (the roll-up's parameters) and flagged.xlsx / flagged.csv (?year=&unit=), as
        party documents; `?place=` for the date line, `?delimiter=semicolon` for a CSV for Excel in Vietnamese."""
        if what not in ("rollup", "flagged") or fmt not in ("xlsx", "csv"):
            raise NotFound("export", f"no export {what}.{fmt}: rollup or flagged, as xlsx or csv",
                           rule="export.unknown",
                           vi=f"không có bản xuất {what}.{fmt}: rollup hoặc flagged, dạng xlsx hoặc csv")
        lang = language(request)
        with self.views.store.read() as sql:
            data, mime, name = Queries(sql, vietnam_today()).export(what, fmt, lang, request.args)
        return Response(data, headers={"Content-Type": mime,
                                       "Content-Disposition": f'attachment; filename="{name}"'})

    @http("GET", "/reporting/units")
    def units(self, request: Request) -> Any:
        return self._answer(request, lambda q: q.units(request.args))

    @http("GET", "/reporting/cells/<cell_id>")
    def cell(self, request: Request, cell_id: str) -> Any:
        return self._answer(request, lambda q: q.cell(cell_id, request.args))

    @http("GET", "/reporting/cells/<cell_id>/events")
    def cell_events(self, request: Request, cell_id: str) -> Any:
        return self._answer(request, lambda q: q.events("cell_id", cell_id, request.args))

    @http("GET", "/reporting/meetings/<meeting_id>")
    def meeting(self, request: Request, meeting_id: str) -> Any:
        return self._answer(request, lambda q: q.meeting(meeting_id))

    @http("GET", "/reporting/meetings/<meeting_id>/events")
    def meeting_events(self, request: Request, meeting_id: str) -> Any:
        return self._answer(request, lambda q: q.events("meeting_id", meeting_id, request.args))

    @http("GET", "/reporting/members/<member_id>")
    def member(self, request: Request, member_id: str) -> Any:
        return self._answer(request, lambda q: q.member(member_id, request.args))

    @http("GET", "/reporting/members/<member_id>/events")
    def member_events(self, request: Request, member_id: str) -> Any:
        return self._answer(request, lambda q: q.events("member_id", member_id, request.args))

    def _positions(self) -> dict[str, int]:
        return {s: self.views.store.position(s) for s in SOURCES}

    @http("GET", "/reporting/openapi.json")
    def openapi(self, request: Any) -> Any:
        """This service's OpenAPI 3.1 document, generated from its routes and request models."""
        return openapi.document(type(self), title="chibo reporting")

    @http("GET", "/reporting/health")
    def health(self, request: Request) -> Any:
        return json_response({"service": self.name, "status": "ok", "positions": self._positions()})

    @http("GET", "/reporting/metrics")
    def metrics(self, request: Request) -> Any:
        return metrics_response()
