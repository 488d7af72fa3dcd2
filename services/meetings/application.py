"""The meetings application: commands and queries over event-sourced meetings. No nameko here."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from services.meetings.domain import Absence, Meeting, hold_meeting
from services.meetings.roster import RosterReader
from services.policy import policy_on
from shared.errors import NotFound
from shared.eventstore import ChiboApplication
from shared.idempotency import CommandKey

VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")  # Việt Nam: UTC+7, no daylight saving


class MeetingsApplication(ChiboApplication):
    name = "meetings"

    def __init__(self, env: dict[str, str] | None = None, today: Callable[[], dt.date] | None = None):
        super().__init__(env=env)
        self.today = today or (lambda: dt.datetime.now(VIETNAM).date())

    def hold_meeting(
        self,
        *,
        roster: RosterReader,
        cell_id: uuid.UUID,
        kind: str,
        topic: str | None,
        date: dt.date,
        start_time: dt.time,
        end_time: dt.time,
        place: str,
        chair_id: uuid.UUID | None,
        minute_taker_id: uuid.UUID | None,
        present: list[uuid.UUID],
        absent: list[dict[str, Any]],
        by: str,
        correlation_id: str | None = None,
        key: CommandKey | None = None,
    ) -> Meeting:
        """Record a held meeting with its full attendance, atomically (all events or none)."""
        cell = roster.unit(str(cell_id))
        members = roster.roster_on(str(cell_id), date)
        meeting = hold_meeting(
            cell_kind=cell.kind if cell else None,
            cell_id=cell_id,
            cell_effective_from=cell.effective_from if cell else None,
            org_path=cell.org_path if cell else [],
            kind=kind,
            topic=topic,
            date=date,
            started_at=dt.datetime.combine(date, start_time, tzinfo=VIETNAM),
            ended_at=dt.datetime.combine(date, end_time, tzinfo=VIETNAM),
            place=place,
            chair_id=chair_id,
            minute_taker_id=minute_taker_id,
            roster=[{"member_id": m.member_id, "full_name": m.full_name, "status": m.status} for m in members],
            today=self.today(),
            policy_version=policy_on(date).version,
            by=by,
            correlation_id=correlation_id,
        )
        meeting.record_attendance(
            [str(p) for p in present],
            [Absence(str(a["member_id"]), bool(a["excused"]), a.get("reason") or "") for a in absent],
            by=by,
            correlation_id=correlation_id,
        )
        self.record(meeting, key=key)
        return meeting

    def meeting(self, meeting_id: uuid.UUID) -> dict[str, Any]:
        m = self.get_or_none(meeting_id)
        if not isinstance(m, Meeting):
            raise NotFound("meeting_id", f"no meeting {meeting_id}", vi=f"không có buổi sinh hoạt {meeting_id}")
        return {
            "id": str(m.id), "cell_id": str(m.cell_id), "kind": m.kind, "topic": m.topic,
            "date": m.date.isoformat(), "started_at": m.started_at.isoformat(),
            "ended_at": m.ended_at.isoformat(), "minutes": m.minutes, "place": m.place,
            "policy_version": m.policy_version, "roster": m.roster, "attendance": m.attendance,
            "version": m.version,
        }
