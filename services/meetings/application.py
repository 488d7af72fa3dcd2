"""The meetings application: commands and queries over event-sourced meetings. No nameko here.

Each command loads what it changes, applies the domain rules, and saves every aggregate it touched (with the
idempotency receipt) in one transaction through `record`: all its events or none.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from services.meetings.domain import (
    Absence,
    CellCalendar,
    Meeting,
    ResolutionClaim,
    hold_meeting,
    schedule_meeting,
)
from services.meetings.roster import RosterReader
from services.policy import Policy, policy_on
from shared.clock import VIETNAM
from shared.errors import DomainError, NotFound
from shared.eventstore import ChiboApplication, check_version
from shared.idempotency import CommandKey


def min_minutes(policy: Policy, kind: str) -> int:
    """The shortest a meeting of this kind should last (below it: a quality flag, not a refusal)."""
    if kind == "combined":
        return policy.combined_min_minutes
    return policy.regular_min_minutes if kind == "regular" else 0


def _roster_dicts(members: list[Any]) -> list[dict[str, Any]]:
    return [{"member_id": m.member_id, "full_name": m.full_name, "status": m.status, "official": m.official}
            for m in members]


def _absences(absent: list[dict[str, Any]]) -> list[Absence]:
    return [Absence(str(a["member_id"]), bool(a["excused"]), a.get("reason") or "") for a in absent]


class MeetingsApplication(ChiboApplication):
    name = "meetings"
    # Members' names arrive sealed from the register (shared/pii.py) and are copied as they are. A guest's
    # name typed here is sealed with a key of the guest's own id, erased like a member's (`chibo member erase`).
    personal_fields: ClassVar[Mapping[str, Mapping[str, str]]] = {"Meeting.GuestAttended": {"full_name": "guest_id"}}
    # A command loads its meeting up to three times (access check, command, the view it answers): replayed from
    # the store each time, that was most of a single-event command's cost. A held meeting is ~60 events and
    # ~40 KiB in memory (ward data): 1000 cached is ~40 MB per process.
    aggregate_cache: ClassVar[int] = 1000

    def __init__(self, env: dict[str, str] | None = None, today: Callable[[], dt.date] | None = None,
                 now: Callable[[], dt.datetime] | None = None):
        super().__init__(env=env)
        self.today = today or (lambda: dt.datetime.now(VIETNAM).date())
        self.now = now or (lambda: dt.datetime.now(VIETNAM))

    # ---- creating a meeting -------------------------------------------------------------------------------

    def _record_new(self, meeting: Meeting, key: CommandKey | None) -> Meeting:
        """Save a new meeting with its entry in the cell's calendar, in one transaction."""
        calendar = self.get_or_none(CellCalendar.id_for(meeting.cell_id))
        if not isinstance(calendar, CellCalendar):
            calendar = CellCalendar(id=CellCalendar.id_for(meeting.cell_id), cell_id=meeting.cell_id)
        calendar.list_meeting(meeting.id)
        self.record(meeting, calendar, key=key, result_id=meeting.id)
        return meeting

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
        guests: list[dict[str, Any]] | None = None,
        agenda_steps: list[dict[str, Any]] | None = None,
        speakers: list[dict[str, Any]] | None = None,
        dues: list[dict[str, Any]] | None = None,
    ) -> Meeting:
        """Record a held meeting with its full attendance (and optionally guests, agenda steps, speakers and
        dues), atomically (all events or none)."""
        cell = roster.unit(str(cell_id))
        members = roster.roster_on(str(cell_id), date)
        meeting = hold_meeting(
            cell_kind=cell.kind if cell else None,
            cell_id=cell_id,
            cell_effective_from=cell.effective_from if cell else None,
            cell_ended_on=cell.ended_on if cell else None,
            org_path=cell.org_path if cell else [],
            kind=kind,
            topic=topic,
            date=date,
            started_at=dt.datetime.combine(date, start_time, tzinfo=VIETNAM),
            ended_at=dt.datetime.combine(date, end_time, tzinfo=VIETNAM),
            place=place,
            chair_id=chair_id,
            minute_taker_id=minute_taker_id,
            roster=_roster_dicts(members),
            temporary_participants=_roster_dicts(roster.temporary_participants(str(cell_id), date)),
            today=self.today(),
            policy_version=policy_on(date).version,
            by=by,
            correlation_id=correlation_id,
        )
        meeting.record_attendance(
            [str(p) for p in present],
            _absences(absent),
            by=by,
            correlation_id=correlation_id,
        )
        for guest in guests or []:
            self._guest(meeting, roster, guest, by, correlation_id)
        for step in agenda_steps or []:
            meeting.cover_step(step["step"], step.get("note") or "", by, correlation_id)
        for s in speakers or []:
            meeting.record_speaker(str(s["member_id"]), s["gist"], by, correlation_id)
        for d in dues or []:
            meeting.collect_dues(str(d["member_id"]), d["month"], bool(d["paid"]), by, correlation_id)
        return self._record_new(meeting, key)

    def schedule_meeting(self, *, roster: RosterReader, cell_id: uuid.UUID, kind: str, topic: str | None,
                         date: dt.date, start_time: dt.time, place: str, by: str, correlation_id: str | None = None,
                         key: CommandKey | None = None) -> Meeting:
        """Schedule and notify: the cell's members on that date and the supervisors assigned to it are summoned."""
        cell = roster.unit(str(cell_id))
        guests = [{"guest_id": s.supervisor_id, "full_name": s.full_name}
                  for s in roster.supervisors_on(str(cell_id), date)]
        meeting = schedule_meeting(
            cell_kind=cell.kind if cell else None, cell_id=cell_id, cell_ended_on=cell.ended_on if cell else None,
            org_path=cell.org_path if cell else [], kind=kind, topic=topic,
            scheduled_for=dt.datetime.combine(date, start_time, tzinfo=VIETNAM), place=place,
            summoned=_roster_dicts(roster.roster_on(str(cell_id), date)), guests=guests, by=by,
            correlation_id=correlation_id,
        )
        return self._record_new(meeting, key)

    # ---- changing a meeting -------------------------------------------------------------------------------

    def get_meeting(self, meeting_id: uuid.UUID) -> Meeting:
        m = self.get_or_none(meeting_id)
        if not isinstance(m, Meeting):
            raise NotFound("meeting_id", f"no meeting {meeting_id}", vi=f"không có buổi sinh hoạt {meeting_id}")
        return m

    def cell_of(self, meeting_id: uuid.UUID) -> uuid.UUID:
        """The meeting's cell (it never changes once recorded): from the cache without a query when it is there."""
        cached = self.cached(meeting_id)
        return cached.cell_id if isinstance(cached, Meeting) else self.get_meeting(meeting_id).cell_id

    def _change(self, meeting_id: uuid.UUID, expected_version: int | None, key: CommandKey | None,
                apply: Callable[[Meeting], list[Any] | None]) -> Meeting:
        meeting = self.get_meeting(meeting_id)
        check_version(meeting, expected_version)
        try:
            extra = apply(meeting) or []
        except DomainError as exc:  # a refusal naming a member names them in clear
            raise self.revealed(exc) from None
        self.record(meeting, *extra, key=key, result_id=meeting.id)
        return meeting

    def hold_scheduled(self, meeting_id: uuid.UUID, *, roster: RosterReader, date: dt.date, start_time: dt.time,
                       end_time: dt.time, place: str, chair_id: uuid.UUID | None, minute_taker_id: uuid.UUID | None,
                       by: str, correlation_id: str | None = None, expected_version: int | None = None,
                       key: CommandKey | None = None) -> Meeting:
        """A scheduled meeting took place: its roster is taken from the replica as of `date` and frozen."""
        def apply(m: Meeting) -> None:
            cell = roster.unit(str(m.cell_id))
            m.hold(date=date, started_at=dt.datetime.combine(date, start_time, tzinfo=VIETNAM),
                   ended_at=dt.datetime.combine(date, end_time, tzinfo=VIETNAM), place=place, chair_id=chair_id,
                   minute_taker_id=minute_taker_id, roster=_roster_dicts(roster.roster_on(str(m.cell_id), date)),
                   temporary_participants=_roster_dicts(roster.temporary_participants(str(m.cell_id), date)),
                   today=self.today(), policy_version=policy_on(date).version,
                   cell_ended_on=cell.ended_on if cell else None, by=by, correlation_id=correlation_id)

        return self._change(meeting_id, expected_version, key, apply)

    def record_attendance(self, meeting_id: uuid.UUID, *, present: list[uuid.UUID], absent: list[dict[str, Any]],
                          by: str, correlation_id: str | None = None, expected_version: int | None = None,
                          key: CommandKey | None = None) -> Meeting:
        return self._change(meeting_id, expected_version, key, lambda m: m.record_attendance(
            [str(p) for p in present],
            _absences(absent),
            by=by, correlation_id=correlation_id, complete=False))

    def _guest(self, m: Meeting, roster: RosterReader, guest: dict[str, Any], by: str,
               correlation_id: str | None) -> None:
        guest_id = str(guest["guest_id"])
        assigned = any(s.supervisor_id == guest_id for s in roster.supervisors_on(str(m.cell_id), m.date))
        name = guest.get("full_name") or roster.full_name(guest_id) or ""
        m.record_guest(guest_id, name, assigned, by, correlation_id)

    def record_guests(self, meeting_id: uuid.UUID, *, roster: RosterReader, guests: list[dict[str, Any]], by: str,
                      correlation_id: str | None = None, expected_version: int | None = None,
                      key: CommandKey | None = None) -> Meeting:
        def apply(m: Meeting) -> None:
            for g in guests:
                self._guest(m, roster, g, by, correlation_id)

        return self._change(meeting_id, expected_version, key, apply)

    def cover_steps(self, meeting_id: uuid.UUID, *, steps: list[dict[str, Any]], by: str,
                    correlation_id: str | None = None, expected_version: int | None = None,
                    key: CommandKey | None = None) -> Meeting:
        def apply(m: Meeting) -> None:
            for s in steps:
                m.cover_step(s["step"], s.get("note") or "", by, correlation_id)

        return self._change(meeting_id, expected_version, key, apply)

    def record_speakers(self, meeting_id: uuid.UUID, *, speakers: list[dict[str, Any]], by: str,
                        correlation_id: str | None = None, expected_version: int | None = None,
                        key: CommandKey | None = None) -> Meeting:
        def apply(m: Meeting) -> None:
            for s in speakers:
                m.record_speaker(str(s["member_id"]), s["gist"], by, correlation_id)

        return self._change(meeting_id, expected_version, key, apply)

    def vote(self, meeting_id: uuid.UUID, *, text: str, kind: str, votes_for: int, votes_against: int,
             abstentions: int, voters: list[uuid.UUID], by: str, correlation_id: str | None = None,
             expected_version: int | None = None, key: CommandKey | None = None) -> Meeting:
        """Propose a resolution and record its vote; the resolution's index entry is saved with it."""
        def apply(m: Meeting) -> list[Any]:
            policy = policy_on(m.date)
            rid = m.vote(text=text, kind=kind, votes_for=votes_for, votes_against=votes_against,
                         abstentions=abstentions, voters=[str(v) for v in voters],
                         decision_majority=policy.decision_majority, admission_majority=policy.admission_majority,
                         by=by, correlation_id=correlation_id)
            return [ResolutionClaim(id=rid, meeting_id=m.id, cell_id=m.cell_id, date=m.date, text=text.strip())]

        return self._change(meeting_id, expected_version, key, apply)

    def review(self, meeting_id: uuid.UUID, *, resolution_id: uuid.UUID, outcome: str, note: str, by: str,
               correlation_id: str | None = None, expected_version: int | None = None,
               key: CommandKey | None = None) -> Meeting:
        claim = self.get_or_none(resolution_id)
        claim = claim if isinstance(claim, ResolutionClaim) else None
        return self._change(meeting_id, expected_version, key, lambda m: m.review(
            resolution_id=resolution_id, resolution_cell_id=claim.cell_id if claim else None,
            resolution_meeting_id=claim.meeting_id if claim else None, resolution_date=claim.date if claim else None,
            outcome=outcome, note=note, by=by, correlation_id=correlation_id))

    def collect_dues(self, meeting_id: uuid.UUID, *, dues: list[dict[str, Any]], by: str,
                     correlation_id: str | None = None, expected_version: int | None = None,
                     key: CommandKey | None = None) -> Meeting:
        def apply(m: Meeting) -> None:
            for d in dues:
                m.collect_dues(str(d["member_id"]), d["month"], bool(d["paid"]), by, correlation_id)

        return self._change(meeting_id, expected_version, key, apply)

    def close_meeting(self, meeting_id: uuid.UUID, *, by: str, correlation_id: str | None = None,
              expected_version: int | None = None, key: CommandKey | None = None) -> Meeting:
        def apply(m: Meeting) -> None:
            policy = policy_on(m.date)
            m.close(self.now(), policy.required_agenda_steps, min_minutes(policy, m.kind), by, correlation_id)

        return self._change(meeting_id, expected_version, key, apply)

    def cancel(self, meeting_id: uuid.UUID, *, reason: str, by: str, correlation_id: str | None = None,
               expected_version: int | None = None, key: CommandKey | None = None) -> Meeting:
        return self._change(meeting_id, expected_version, key, lambda m: m.cancel(reason, by, correlation_id))

    def correct(self, meeting_id: uuid.UUID, *, path: str, value: Any, reason: str, by: str,
                correlation_id: str | None = None, expected_version: int | None = None,
                key: CommandKey | None = None) -> Meeting:
        return self._change(meeting_id, expected_version, key,
                            lambda m: m.correct(path, value, reason, by, correlation_id))

    # ---- queries ------------------------------------------------------------------------------------------

    def revealed(self, exc: DomainError) -> DomainError:
        """The same refusal with the sealed names in its messages opened."""
        if self.pii is None or "pii:v1:" not in f"{exc.message} {exc.vi}":
            return exc
        opened = type(exc).__new__(type(exc))  # the same class and fields (copy.copy would call __init__)
        opened.__dict__.update(exc.__dict__)
        opened.message = self.pii.reveal_text(exc.message)
        opened.vi = self.pii.reveal_text(exc.vi) if exc.vi else exc.vi
        opened.args = (f"{exc.field}: {opened.message}",)
        return opened

    def reveal_roster(self, roster: dict[str, Any]) -> dict[str, Any]:
        """The replica's roster of a cell (GET /meetings/cells/<id>/roster) with the names opened, by name."""
        out = self.reveal(roster)
        for part in ("members", "temporary_participants"):
            out[part] = sorted(out[part], key=lambda e: (e["full_name"], e["member_id"]))
        return out

    def meeting(self, meeting_id: uuid.UUID) -> dict[str, Any]:
        return self.view(self.get_meeting(meeting_id))

    def view(self, m: Meeting) -> dict[str, Any]:
        """The meeting's view with the names opened: what GET /meetings/meetings/<id> and every command answer.
        A command passes the aggregate it saved (what a fresh load would give, but for the personal values it
        typed itself, not yet sealed: the same once opened)."""
        view = self.reveal(meeting_view(m))
        for part in ("roster", "temporary_participants", "summoned"):  # by name, as the replica gave them
            view[part] = sorted(view[part], key=lambda e: (e["full_name"], e["member_id"]))
        for review in view["reviews"]:  # what was reviewed, in words, for the minutes and the secretary
            earlier = self.get_or_none(uuid.UUID(review["resolution_meeting_id"]))
            review["resolution_text"] = next(
                (r["text"] for r in getattr(earlier, "resolutions", []) if str(r["resolution_id"])
                 == review["resolution_id"]), None)
            review["resolution_date"] = earlier.date.isoformat() if isinstance(earlier, Meeting) else None
        return view

    def cell_meetings(self, cell_id: uuid.UUID, start: dt.date | None, end: dt.date | None) -> list[dict[str, Any]]:
        calendar = self.get_or_none(CellCalendar.id_for(cell_id))
        if not isinstance(calendar, CellCalendar):
            return []
        rows = []
        for mid in calendar.meetings:
            m = self.get_meeting(uuid.UUID(mid))
            if (start is None or m.date >= start) and (end is None or m.date <= end):
                rows.append({"id": str(m.id), "status": m.status, "kind": m.kind, "topic": m.topic,
                             "date": m.date.isoformat(), "place": m.place, "version": m.version})
        return sorted(rows, key=lambda r: (r["date"], r["id"]))

    def history(self, meeting_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every stored event of the meeting: what, when, who and under which correlation id."""
        self.get_meeting(meeting_id)
        return self.event_history(meeting_id)


def meeting_view(m: Meeting) -> dict[str, Any]:
    """The meeting as it stands (corrections applied), with its counts and quality figures."""
    policy = policy_on(m.date)
    held = m.status in ("held", "closed")
    names = {e["member_id"]: e["full_name"] for e in [*m.roster, *m.temporary_participants, *m.summoned]}
    names |= {gid: g["full_name"] for gid, g in m.guests.items()}
    return {
        "id": str(m.id), "cell_id": str(m.cell_id), "status": m.status, "kind": m.kind, "topic": m.topic,
        "date": m.date.isoformat(),
        "scheduled_for": m.scheduled_for.isoformat() if m.scheduled_for else None,
        "started_at": m.started_at.isoformat() if m.started_at else None,
        "ended_at": m.ended_at.isoformat() if m.ended_at else None,
        "minutes": m.minutes, "place": m.place,
        "chair_id": str(m.chair_id) if m.chair_id else None,
        "minute_taker_id": str(m.minute_taker_id) if m.minute_taker_id else None,
        "policy_version": m.policy_version or policy.version,
        "summoned": m.summoned, "summoned_guests": m.summoned_guests,
        "roster": m.roster, "temporary_participants": m.temporary_participants,
        "attendance": m.attendance,
        "guests": [{"guest_id": gid, **g} for gid, g in m.guests.items()],
        "agenda": m.agenda,
        "speakers": [{**s, "full_name": names.get(s["member_id"], "")} for s in m.speakers],
        "resolutions": [{**r, "resolution_id": str(r["resolution_id"])} for r in m.resolutions],
        "reviews": [{**r, "resolution_id": str(r["resolution_id"]),
                     "resolution_meeting_id": str(r["resolution_meeting_id"])} for r in m.reviews],
        "dues": m.dues,
        "counts": {
            "summoned": len(m.roster), "present": len(m.present_ids()), "attendance_base": m.attendance_base(),
            "voting_base": len(m.voting_base()), "eligible_voters": len(m.eligible_voters()),
            "able_to_decide": m.able_to_decide(policy.decision_majority) if held else None,
            "participation": m.participation(),
        } if held else None,
        "full_procedure": (m.full_procedure(policy.required_agenda_steps) if m.kind != "thematic" else None)
        if held else None,
        "below_minimum_duration": m.minutes < min_minutes(policy, m.kind) if held else None,
        "closed_at": m.closed_at.isoformat() if m.closed_at else None,
        "cancel_reason": m.cancel_reason,
        "corrections": m.corrections,
        "version": m.version,
    }
