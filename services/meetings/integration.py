"""Domain events of the meetings service -> integration events (shared.contracts.meetings).

Index aggregates (ResolutionClaim, CellCalendar) and idempotency receipts are internal: not published.
"""

from __future__ import annotations

from typing import Any

from services.meetings.domain import Meeting
from shared.contracts import meetings as c
from shared.relay import Translated


def _held(event: Any) -> c.MeetingHeld:
    return c.MeetingHeld(
        meeting_id=event.originator_id, cell_id=event.cell_id, kind=event.kind, topic=event.topic,
        date=event.date, started_at=event.started_at, ended_at=event.ended_at, place=event.place,
        chair_id=event.chair_id, minute_taker_id=event.minute_taker_id,
        roster=[c.RosterEntry(**e) for e in event.roster], policy_version=event.policy_version,
        temporary_participants=[c.RosterEntry(**e) for e in event.temporary_participants],
    )


def _vote(model: type[c._Vote], event: Any) -> c._Vote:
    return model(
        meeting_id=event.originator_id, cell_id=event.cell_id, resolution_id=event.resolution_id, kind=event.kind,
        text=event.text, votes_for=event.votes_for, votes_against=event.votes_against,
        abstentions=event.abstentions, voting_base=event.voting_base, eligible_voters=event.eligible_voters,
        threshold=event.threshold, voters=event.voters, reason=event.reason,
    )


def translate(event: Any) -> Translated | None:
    mid = getattr(event, "originator_id", None)
    if isinstance(event, Meeting.Held | Meeting.HeldAsScheduled):
        return Translated(_held(event), event.started_at)
    if isinstance(event, Meeting.Scheduled):
        return Translated(c.MeetingScheduled(
            meeting_id=mid, cell_id=event.cell_id, kind=event.kind, topic=event.topic,
            scheduled_for=event.scheduled_for, place=event.place,
            summoned=[e["member_id"] for e in event.summoned], guests=[g["guest_id"] for g in event.guests],
        ), event.timestamp)
    if isinstance(event, Meeting.MemberAttended):
        return Translated(c.MemberAttended(meeting_id=mid, cell_id=event.cell_id, member_id=event.member_id,
                                           status=event.status), event.occurred_at)
    if isinstance(event, Meeting.MemberAbsent):
        return Translated(c.MemberAbsent(meeting_id=mid, cell_id=event.cell_id, member_id=event.member_id,
                                         status=event.status, excused=event.excused, reason=event.reason),
                          event.occurred_at)
    if isinstance(event, Meeting.GuestAttended):
        return Translated(c.GuestAttended(meeting_id=mid, cell_id=event.cell_id, guest_id=event.guest_id,
                                          full_name=event.full_name,
                                          is_assigned_supervisor=event.is_assigned_supervisor), event.occurred_at)
    if isinstance(event, Meeting.AgendaStepCovered):
        return Translated(c.AgendaStepCovered(meeting_id=mid, cell_id=event.cell_id, step=event.step,
                                              note=event.note), event.occurred_at)
    if isinstance(event, Meeting.MemberSpoke):
        return Translated(c.MemberSpoke(meeting_id=mid, cell_id=event.cell_id, member_id=event.member_id,
                                        gist=event.gist), event.occurred_at)
    if isinstance(event, Meeting.ResolutionPassed):
        return Translated(_vote(c.ResolutionPassed, event), event.occurred_at)
    if isinstance(event, Meeting.ResolutionRejected):
        return Translated(_vote(c.ResolutionRejected, event), event.occurred_at)
    if isinstance(event, Meeting.ResolutionReviewed):
        return Translated(c.ResolutionReviewed(meeting_id=mid, cell_id=event.cell_id,
                                               resolution_id=event.resolution_id, outcome=event.outcome,
                                               note=event.note, resolution_meeting_id=event.resolution_meeting_id),
                          event.occurred_at)
    if isinstance(event, Meeting.DuesCollected):
        return Translated(c.DuesCollected(meeting_id=mid, cell_id=event.cell_id, member_id=event.member_id,
                                          month=event.month, paid=event.paid), event.occurred_at)
    if isinstance(event, Meeting.Closed):
        return Translated(c.MeetingClosed(meeting_id=mid, cell_id=event.cell_id,
                                          minutes_approved_at=event.minutes_approved_at,
                                          full_procedure=event.full_procedure, minutes=event.minutes,
                                          below_minimum_duration=event.below_minimum_duration),
                          event.minutes_approved_at)
    if isinstance(event, Meeting.Cancelled):
        return Translated(c.MeetingCancelled(meeting_id=mid, cell_id=event.cell_id, reason=event.reason),
                          event.timestamp)
    if isinstance(event, Meeting.Corrected):
        return Translated(c.MeetingCorrected(meeting_id=mid, cell_id=event.cell_id, path=event.path,
                                             old_value=event.old_value, new_value=event.new_value,
                                             reason=event.reason), event.timestamp)
    return None
