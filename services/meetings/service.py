"""The meetings nameko service: HTTP over MeetingsApplication, the roster replica, and its outbox relay."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from werkzeug.wrappers import Response

from services.meetings import roster
from services.meetings.application import MeetingsApplication
from services.meetings.integration import translate
from services.meetings.minutes import render_docx, render_html
from services.meetings.schemas import (
    AgendaSteps,
    Attendance,
    Cancel,
    Close,
    Correction,
    Dues,
    Guests,
    HoldMeeting,
    HoldScheduled,
    Resolution,
    Review,
    ScheduleMeeting,
    Speakers,
)
from shared import openapi
from shared.access import principal
from shared.auth import authorize
from shared.errors import DomainError, NotFound
from shared.nameko_ext import Application, EmbeddedRelay, TrackedViews, tracked_consumer
from shared.readiness import Readiness, live_response, ready_response
from shared.relay import EnvelopeReader
from shared.web import (
    command_response,
    http,
    json_response,
    metrics_response,
    notifications_response,
    ops_http,
    query_date,
)

READ, WRITE = "meetings:read", "meetings:write"


class MeetingsService:
    name = "meetings"

    app: MeetingsApplication = Application(MeetingsApplication)
    views: Any = TrackedViews(roster.DDL, roster.project)
    relay: Any = EmbeddedRelay(translate)
    readiness: Any = Readiness()

    @tracked_consumer("members")
    def on_members_event(self, events: list[tuple[Any, Any]]) -> None:
        self.views.apply_many(events)  # the messages already delivered, in one transaction

    @http("POST", "/meetings/meetings", body=HoldMeeting, action=WRITE)
    def hold(self, request: Any) -> Any:
        """A held meeting in one form (facts and full attendance, optionally the rest of the minutes)."""
        return self._command(request, HoldMeeting, self.app.hold_meeting, with_roster=True, status=201)

    def roster(self) -> roster.RosterReader:
        return roster.RosterReader(self.views.store)

    @http("POST", "/meetings/meetings/schedule", body=ScheduleMeeting, action=WRITE)
    def schedule(self, request: Any) -> Any:
        """Schedule a meeting and notify: the cell's members and its assigned supervisors are summoned."""
        return self._command(request, ScheduleMeeting, self.app.schedule_meeting, with_roster=True, status=201)

    def _command(self, request: Any, model: type[BaseModel], command: Callable[..., Any],
                 meeting_id: uuid.UUID | None = None, with_roster: bool = False, status: int = 200) -> Any:
        """A meeting command; those that read who was in the cell get the roster replica. The caller must be
        allowed to write the meetings of the cell: the meeting's, or the body's `cell_id` for a new one."""
        args: dict[str, Any] = {"roster": self.roster()} if with_roster else {}
        if meeting_id is not None:
            args["meeting_id"] = meeting_id

        def guard(cmd: Any) -> None:
            path = self._meeting_path(meeting_id) if meeting_id is not None else self._cell_path(cmd.cell_id)
            authorize(principal(request), WRITE, unit_path=path)

        return command_response(self.app, request, model, command, self.app.meeting, guard=guard,
                                after=self.relay.nudge, status=status, shown=self.app.view, **args)

    def _cell_path(self, cell_id: uuid.UUID | str) -> list[str]:
        """The cell's path in the tree now, from the roster replica; [] for a cell the replica does not know."""
        return self.roster().path(str(cell_id)) or []

    def _meeting_path(self, meeting_id: uuid.UUID) -> list[str]:
        """The path of the meeting's cell (the aggregate only: no view built, no name opened)."""
        try:
            return self._cell_path(self.app.cell_of(meeting_id))
        except NotFound:
            return []

    def _read(self, request: Any, path: list[str]) -> None:
        authorize(principal(request), READ, unit_path=path)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/hold", body=HoldScheduled, action=WRITE)
    def hold_scheduled(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, HoldScheduled, self.app.hold_scheduled, meeting_id, with_roster=True)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/attendance", body=Attendance, action=WRITE)
    def attendance(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, Attendance, self.app.record_attendance, meeting_id)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/guests", body=Guests, action=WRITE)
    def guests(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, Guests, self.app.record_guests, meeting_id, with_roster=True)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/agenda-steps", body=AgendaSteps, action=WRITE)
    def agenda_steps(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, AgendaSteps, self.app.cover_steps, meeting_id)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/speakers", body=Speakers, action=WRITE)
    def speakers(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, Speakers, self.app.record_speakers, meeting_id)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/resolutions", body=Resolution, action=WRITE)
    def resolutions(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, Resolution, self.app.vote, meeting_id)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/reviews", body=Review, action=WRITE)
    def reviews(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, Review, self.app.review, meeting_id)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/dues", body=Dues, action=WRITE)
    def dues(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, Dues, self.app.collect_dues, meeting_id)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/close", body=Close, action=WRITE)
    def close_meeting(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, Close, self.app.close_meeting, meeting_id)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/cancel", body=Cancel, action=WRITE)
    def cancel_meeting(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, Cancel, self.app.cancel, meeting_id)

    @http("POST", "/meetings/meetings/<uuid:meeting_id>/corrections", body=Correction, action=WRITE)
    def corrections(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self._command(request, Correction, self.app.correct, meeting_id)

    @http("GET", "/meetings/meetings/<uuid:meeting_id>", action=READ)
    def get_meeting(self, request: Any, meeting_id: uuid.UUID) -> Any:
        self._read(request, self._meeting_path(meeting_id))
        return self.app.meeting(meeting_id)

    @http("GET", "/meetings/meetings/<uuid:meeting_id>/history", action=READ)
    def history(self, request: Any, meeting_id: uuid.UUID) -> Any:
        self._read(request, self._meeting_path(meeting_id))
        return {"meeting_id": str(meeting_id), "events": self.app.history(meeting_id)}

    @http("GET", "/meetings/meetings/<uuid:meeting_id>/minutes", action=READ)
    def minutes(self, request: Any, meeting_id: uuid.UUID) -> Any:
        """The minutes (biên bản) in Vietnamese: ?format=html (default) or docx."""
        self._read(request, self._meeting_path(meeting_id))
        fmt = request.args.get("format", "html")
        if fmt not in ("html", "docx"):
            raise DomainError("format", "must be html or docx", rule="minutes.format", vi="phải là html hoặc docx")
        view = self.app.meeting(meeting_id)
        if view["status"] not in ("held", "closed"):
            raise DomainError("meeting_id", "a meeting has minutes once it is held", rule="meeting.not_held",
                              vi="chỉ buổi sinh hoạt đã diễn ra mới có biên bản")
        cell = self.roster().unit(view["cell_id"])
        cell_name = cell.name if cell else view["cell_id"]
        if fmt == "html":
            return Response(render_html(view, cell_name), mimetype="text/html")
        return Response(render_docx(view, cell_name), headers={
            "Content-Disposition": f'attachment; filename="bien-ban-{view["date"]}-{meeting_id}.docx"'},
            mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document")

    @http("GET", "/meetings/cells/<uuid:cell_id>/meetings", action=READ)
    def cell_meetings(self, request: Any, cell_id: uuid.UUID) -> Any:
        self._read(request, self._cell_path(cell_id))
        start, end = query_date(request, "from"), query_date(request, "to")
        return {"cell_id": str(cell_id), "meetings": self.app.cell_meetings(cell_id, start, end)}

    @http("GET", "/meetings/cells/<uuid:cell_id>/roster", action=READ)
    def get_roster(self, request: Any, cell_id: uuid.UUID) -> Any:
        self._read(request, self._cell_path(cell_id))
        day = query_date(request, default=self.app.today())  # today in Việt Nam, as commands date things
        reader = self.roster()
        if reader.unit(str(cell_id)) is None:
            raise DomainError("cell_id", f"no cell {cell_id} is known to the meetings service",
                              vi=f"dịch vụ sinh hoạt chưa biết chi bộ {cell_id}")
        members = reader.roster_on(str(cell_id), day)
        return self.app.reveal_roster({  # the replica holds sealed names (shared/pii.py)
                "cell_id": str(cell_id), "date": day.isoformat(), "members": [m.__dict__ for m in members],
                "temporary_participants": [m.__dict__ for m in reader.temporary_participants(str(cell_id), day)],
                "supervisors": [s.__dict__ for s in reader.supervisors_on(str(cell_id), day)]})

    @http("GET", "/meetings/notifications", action="feed:read")
    def notifications(self, request: Any) -> Any:
        return notifications_response(EnvelopeReader(self.name, self.app, translate), request)

    @http("GET", "/meetings/openapi.json", action="api:read")
    def openapi(self, request: Any) -> Any:
        """This service's OpenAPI 3.1 document, generated from its routes and request models."""
        return openapi.document(type(self), title="chibo meetings")

    def _health(self) -> dict[str, Any]:
        positions: dict[str, int] = {}

        def database() -> None:  # both stores answer
            positions.update(self.roster().position())
            self.app.recorder.max_notification_id()

        readiness = self.readiness.report(database)
        return {"service": self.name, "status": "ok", "positions": positions, **readiness}

    @ops_http("GET", "/meetings/health")
    def health(self, request: Any) -> Any:
        return json_response(self._health())

    @ops_http("GET", "/meetings/ready")
    def ready(self, request: Any) -> Any:
        return ready_response(self._health())

    @ops_http("GET", "/meetings/live")
    def live(self, request: Any) -> Any:
        return live_response(self.name)

    @ops_http("GET", "/meetings/metrics")
    def metrics(self, request: Any) -> Any:
        return metrics_response()
