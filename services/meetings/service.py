"""The meetings nameko service: HTTP over MeetingsApplication, the roster replica, and its outbox relay."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from services.meetings import roster
from services.meetings.application import MeetingsApplication
from services.meetings.integration import translate
from services.meetings.schemas import HoldMeeting
from shared.errors import DomainError
from shared.idempotency import CommandKey
from shared.nameko_ext import Application, EmbeddedRelay, TrackedViews, tracked_consumer
from shared.relay import EnvelopeReader
from shared.web import (
    correlation_id,
    http,
    idempotent,
    json_response,
    metrics_response,
    notifications_response,
    parse_body,
)


class MeetingsService:
    name = "meetings"

    app: MeetingsApplication = Application(MeetingsApplication)
    views: Any = TrackedViews(roster.DDL, roster.project)
    relay: Any = EmbeddedRelay(translate)

    @tracked_consumer("members")
    def on_members_event(self, envelope: Any, payload: Any) -> None:
        self.views.apply(envelope, payload)

    @http("POST", "/meetings/meetings")
    def hold(self, request: Any) -> Any:
        cmd = parse_body(HoldMeeting, request)

        def run(key: CommandKey | None) -> Any:
            meeting = self.app.hold_meeting(
                roster=roster.RosterReader(self.views.store),
                **cmd.model_dump(exclude={"recorded_by", "absent"}),
                absent=[a.model_dump() for a in cmd.absent],
                by=cmd.recorded_by,
                correlation_id=correlation_id(request),
                key=key,
            )
            self.relay.nudge()
            return meeting.id

        return idempotent(self.app, request, cmd, run, self.app.meeting)

    @http("GET", "/meetings/meetings/<uuid:meeting_id>")
    def get_meeting(self, request: Any, meeting_id: uuid.UUID) -> Any:
        return self.app.meeting(meeting_id)

    @http("GET", "/meetings/cells/<uuid:cell_id>/roster")
    def get_roster(self, request: Any, cell_id: uuid.UUID) -> Any:
        raw = request.args.get("date") or dt.date.today().isoformat()
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise DomainError("date", f"must be a date as YYYY-MM-DD, not {raw!r}",
                              vi=f"phải là ngày dạng YYYY-MM-DD, không phải {raw!r}") from None
        reader = roster.RosterReader(self.views.store)
        if reader.unit(str(cell_id)) is None:
            raise DomainError("cell_id", f"no cell {cell_id} is known to the meetings service",
                              vi=f"dịch vụ sinh hoạt chưa biết chi bộ {cell_id}")
        members = reader.roster_on(str(cell_id), day)
        return {"cell_id": str(cell_id), "date": day.isoformat(), "members": [m.__dict__ for m in members]}

    @http("GET", "/meetings/notifications")
    def notifications(self, request: Any) -> Any:
        return notifications_response(EnvelopeReader(self.name, self.app, translate), request)

    @http("GET", "/meetings/health")
    def health(self, request: Any) -> Any:
        return json_response({"service": self.name, "status": "ok",
                              "positions": roster.RosterReader(self.views.store).position()})

    @http("GET", "/meetings/metrics")
    def metrics(self, request: Any) -> Any:
        return metrics_response()
