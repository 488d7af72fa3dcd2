"""Domain events of the meetings service -> integration events (shared.contracts.meetings)."""

from __future__ import annotations

from typing import Any

from services.meetings.domain import Meeting
from shared.contracts import meetings as c
from shared.relay import Translated


def translate(event: Any) -> Translated | None:
    if isinstance(event, Meeting.Held):
        return Translated(
            c.MeetingHeld(
                meeting_id=event.originator_id, cell_id=event.cell_id, kind=event.kind, topic=event.topic,
                date=event.date, started_at=event.started_at, ended_at=event.ended_at, place=event.place,
                chair_id=event.chair_id, minute_taker_id=event.minute_taker_id,
                roster=[c.RosterEntry(**e) for e in event.roster], policy_version=event.policy_version,
            ),
            event.started_at,
        )
    if isinstance(event, Meeting.MemberAttended):
        return Translated(
            c.MemberAttended(meeting_id=event.originator_id, cell_id=event.cell_id,
                             member_id=event.member_id, status=event.status),
            event.occurred_at,
        )
    if isinstance(event, Meeting.MemberAbsent):
        return Translated(
            c.MemberAbsent(meeting_id=event.originator_id, cell_id=event.cell_id,
                           member_id=event.member_id, status=event.status, excused=event.excused,
                           reason=event.reason),
            event.occurred_at,
        )
    return None
