"""The Meeting aggregate and the rules of a cell meeting's life (design.md §2). No framework code.

Life: scheduled -> held -> closed (minutes approved), or scheduled -> cancelled. A meeting recorded in one
go (`hold_meeting`) starts held. While held, the secretary records attendance, guests, agenda steps,
speakers, resolutions with their votes, reviews of earlier resolutions and dues. Once closed, nothing changes
except through a `Corrected` event (path, old value, new value, reason, who): the original events stay.

Counting (design.md §2; the rules are services.meetings.counting):
- attendance base = summoned members - temporarily elsewhere - exempted members who are absent;
- voting base = the official members of the attendance base: official members, and exempted members who are
  official (roster entry `official: true`) and attend; probationary members never vote;
- "able to decide": more than half (policy `decision_majority`) of the voting base is present. A vote at a
  meeting that is not able to decide is *recorded* as `ResolutionRejected` with reason `not_able_to_decide`
  (the minutes show that the cell tried and could not decide), never adopted.
- Members temporarily transferred *into* the cell (sinh hoạt tạm thời) are listed as temporary participants:
  they may attend and speak but are outside the host cell's attendance and voting bases (they are counted at
  home, where they appear as `temporarily_elsewhere`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, get_args

from eventsourcing.domain import Aggregate, event

from services.meetings import corrections, counting
from shared.contracts.meetings import AgendaStep
from shared.errors import DomainError
from shared.i18n import term, vn_date

MEETING_KINDS = ("regular", "thematic", "combined")
AGENDA_ORDER: tuple[str, ...] = get_args(AgendaStep)  # the order of a regular meeting (HD 12/2018)
RESOLUTION_KINDS = ("ordinary", "admission", "confirmation")
REVIEW_OUTCOMES = ("implemented", "partly", "not_implemented")
_RESOLUTION_NS = uuid.UUID("0b7f0d3e-4c1a-4f55-9b51-8f3f1f6a2c11")


def resolution_id_for(meeting_id: uuid.UUID, seq: int) -> uuid.UUID:
    """The id of a meeting's `seq`-th resolution: stable, so a replayed command derives the same one."""
    return uuid.uuid5(_RESOLUTION_NS, f"{meeting_id}/{seq}")


@dataclass(frozen=True)
class Absence:
    member_id: str
    excused: bool
    reason: str


def _refuse(field: str, rule: str, message: str, vi: str) -> DomainError:
    return DomainError(field, message, rule=rule, vi=vi)


class Meeting(Aggregate):
    """A cell meeting (buổi sinh hoạt chi bộ)."""

    class Held(Aggregate.Created):
        """Recorded as held in one go: the roster is frozen with each member's status on the date."""

        cell_id: uuid.UUID
        kind: str
        topic: str | None
        date: dt.date
        started_at: dt.datetime
        ended_at: dt.datetime
        place: str
        chair_id: uuid.UUID | None
        minute_taker_id: uuid.UUID | None
        roster: list[dict[str, str]]
        policy_version: str
        org_path: list[str]
        recorded_by: str
        correlation_id: str | None
        temporary_participants: list[dict[str, str]] = dataclasses.field(default_factory=list)

        class_version = 2  # v2 added temporary_participants

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["temporary_participants"] = []

        def apply(self, m: Meeting) -> None:
            m._take_held(self)

    class Scheduled(Aggregate.Created):
        """Scheduled and notified (triệu tập): the cell's members and the assigned supervisors."""

        cell_id: uuid.UUID
        kind: str
        topic: str | None
        scheduled_for: dt.datetime
        place: str
        summoned: list[dict[str, str]]
        guests: list[dict[str, str]]
        org_path: list[str]
        recorded_by: str
        correlation_id: str | None

        def apply(self, m: Meeting) -> None:
            m.status = "scheduled"
            m.cell_id, m.kind, m.topic, m.place = self.cell_id, self.kind, self.topic, self.place
            m.scheduled_for = self.scheduled_for
            m.date = self.scheduled_for.date()
            m.summoned, m.summoned_guests, m.org_path = self.summoned, self.guests, self.org_path

    def __init__(self) -> None:
        self.status = "new"
        self.cell_id: uuid.UUID
        self.kind = "regular"
        self.topic: str | None = None
        self.place = ""
        self.scheduled_for: dt.datetime | None = None
        self.date: dt.date
        self.started_at: dt.datetime | None = None
        self.ended_at: dt.datetime | None = None
        self.chair_id: uuid.UUID | None = None
        self.minute_taker_id: uuid.UUID | None = None
        self.roster: list[dict[str, str]] = []
        self.temporary_participants: list[dict[str, str]] = []
        self.summoned: list[dict[str, str]] = []
        self.summoned_guests: list[dict[str, str]] = []
        self.policy_version = ""
        self.org_path: list[str] = []
        self.attendance: dict[str, dict[str, Any]] = {}
        self.guests: dict[str, dict[str, Any]] = {}
        self.agenda: list[dict[str, str]] = []
        self.speakers: list[dict[str, str]] = []
        self.resolutions: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []
        self.dues: dict[str, dict[str, Any]] = {}
        self.corrections: list[dict[str, Any]] = []
        self.closed_at: dt.datetime | None = None
        self.cancel_reason: str | None = None

    def _take_held(self, e: Any) -> None:
        self.status = "held"
        self.cell_id, self.kind, self.topic, self.date = e.cell_id, e.kind, e.topic, e.date
        self.started_at, self.ended_at, self.place = e.started_at, e.ended_at, e.place
        self.chair_id, self.minute_taker_id = e.chair_id, e.minute_taker_id
        self.roster, self.policy_version, self.org_path = e.roster, e.policy_version, e.org_path
        self.temporary_participants = list(getattr(e, "temporary_participants", []) or [])

    # ---- context and guards -------------------------------------------------------------------------------

    def _ctx(self, by: str, correlation_id: str | None) -> dict[str, Any]:
        """What every event carries, so it is self-contained for the relay and consumers."""
        return {"cell_id": self.cell_id, "org_path": self.org_path, "recorded_by": by,
                "correlation_id": correlation_id}

    def check_open(self) -> None:
        """Refuse a direct change unless the meeting is held and not yet closed."""
        if self.status == "closed":
            raise _refuse("meeting_id", "meeting.closed",
                          "the minutes of this meeting are approved and closed: change it only by a correction",
                          "biên bản buổi sinh hoạt đã được thông qua và khóa sổ: chỉ có thể đính chính")
        if self.status == "cancelled":
            raise _refuse("meeting_id", "meeting.cancelled", "this meeting was cancelled",
                          "buổi sinh hoạt này đã bị hủy")
        if self.status != "held":
            raise _refuse("meeting_id", "meeting.not_held", "record the meeting as held first",
                          "cần ghi nhận buổi sinh hoạt đã diễn ra trước")

    def entry(self, member_id: str) -> dict[str, str] | None:
        return counting.entry_of(self.roster, member_id)

    def status_of(self, member_id: str) -> str:
        e = self.entry(member_id)
        if e is None:
            raise self._not_in_cell("member_id", member_id)
        return e["status"]

    def _not_in_cell(self, field: str, member_id: str) -> DomainError:
        return _refuse(field, "attendance.roster",
                       f"{member_id} was not a member of this cell on {self.date.isoformat()}",
                       f"{member_id} không phải đảng viên của chi bộ vào ngày {vn_date(self.date)}")

    def is_temporary_participant(self, member_id: str) -> bool:
        return any(p["member_id"] == member_id for p in self.temporary_participants)

    # ---- counting -----------------------------------------------------------------------------------------

    def present_ids(self) -> list[str]:
        return counting.present_ids(self.roster, self.attendance)

    def attendance_base(self) -> int:
        return counting.attendance_base(self.roster, self.attendance)

    @staticmethod
    def is_official(entry: dict[str, Any]) -> bool:
        return counting.is_official(entry)

    def voting_base(self) -> list[str]:
        return counting.voting_base(self.roster, self.attendance)

    def eligible_voters(self) -> list[str]:
        return counting.eligible_voters(self.roster, self.attendance)

    def able_to_decide(self, decision_majority: str) -> bool:
        return counting.able_to_decide(self.roster, self.attendance, decision_majority)

    @property
    def minutes(self) -> int:
        if self.started_at is None or self.ended_at is None:
            return 0
        return int((self.ended_at - self.started_at).total_seconds() // 60)

    def full_procedure(self, required: tuple[str, ...]) -> bool:
        covered = {a["step"] for a in self.agenda}
        return all(step in covered for step in required)

    # ---- holding a scheduled meeting ---------------------------------------------------------------------

    def hold(self, *, date: dt.date, started_at: dt.datetime, ended_at: dt.datetime, place: str,
             chair_id: uuid.UUID | None, minute_taker_id: uuid.UUID | None, roster: list[dict[str, str]],
             temporary_participants: list[dict[str, str]], today: dt.date, policy_version: str,
             cell_ended_on: dt.date | None, by: str, correlation_id: str | None) -> None:
        if self.status != "scheduled":
            raise _refuse("meeting_id", "meeting.not_scheduled", f"this meeting is {self.status}, not scheduled",
                          f"buổi sinh hoạt này ở trạng thái {term(self.status)}, không phải đã lên lịch")
        check_held_facts(kind=self.kind, topic=self.topic, date=date, today=today, started_at=started_at,
                         ended_at=ended_at, roster=roster, chair_id=chair_id, minute_taker_id=minute_taker_id,
                         cell_effective_from=None, cell_ended_on=cell_ended_on)
        self._held_as_scheduled(
            date=date, started_at=started_at, ended_at=ended_at, place=place.strip() or self.place,
            chair_id=chair_id, minute_taker_id=minute_taker_id, roster=roster,
            temporary_participants=temporary_participants, policy_version=policy_version,
            kind=self.kind, topic=self.topic, **self._ctx(by, correlation_id))

    @event("HeldAsScheduled")
    def _held_as_scheduled(self, date: dt.date, started_at: dt.datetime, ended_at: dt.datetime, place: str,
                           chair_id: uuid.UUID | None, minute_taker_id: uuid.UUID | None,
                           roster: list[dict[str, str]], temporary_participants: list[dict[str, str]],
                           policy_version: str, kind: str, topic: str | None, cell_id: uuid.UUID,
                           org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        facts = dict(locals())
        facts.pop("self")
        self._take_held(SimpleNamespace(**facts))

    def cancel(self, reason: str, by: str, correlation_id: str | None) -> None:
        if self.status != "scheduled":
            raise _refuse("meeting_id", "meeting.not_scheduled",
                          f"only a scheduled meeting can be cancelled; this one is {self.status}",
                          f"chỉ hủy được buổi sinh hoạt đã lên lịch; buổi này ở trạng thái {term(self.status)}")
        if not reason.strip():
            raise _refuse("reason", "cancel.reason", "say why the meeting is cancelled", "phải ghi lý do hủy")
        self._cancelled(reason=reason.strip(), **self._ctx(by, correlation_id))

    @event("Cancelled")
    def _cancelled(self, reason: str, cell_id: uuid.UUID, org_path: list[str], recorded_by: str,
                   correlation_id: str | None) -> None:
        self.status = "cancelled"
        self.cancel_reason = reason

    # ---- attendance ---------------------------------------------------------------------------------------

    def record_attendance(self, present: list[str], absent: list[Absence], by: str, correlation_id: str | None,
                          complete: bool = True) -> None:
        """Record summoned members as present or absent (excused or not), each exactly once.

        `complete`: every summoned member must be accounted for (the one-command hold; and at closing).
        """
        self.check_open()
        seen: set[str] = set()
        for field, ids in (("present", present), ("absent", [a.member_id for a in absent])):
            for i, member_id in enumerate(ids):
                if member_id in seen or member_id in self.attendance:
                    raise _refuse(f"{field}.{i}", "attendance.once", f"{member_id} is listed twice",
                                  f"{member_id} được ghi hai lần")
                seen.add(member_id)
                if self.entry(member_id) is None:
                    raise self._not_in_cell(f"{field}.{i}", member_id)
        for i, absence in enumerate(absent):
            if absence.excused and not absence.reason.strip():
                raise _refuse(f"absent.{i}.reason", "attendance.excuse_reason", "an excused absence needs its reason",
                              "vắng có lý do thì phải ghi lý do")
        if complete:
            self._check_complete(seen)
        context = self._ctx(by, correlation_id) | {"occurred_at": self.started_at}
        for member_id in present:
            self._attended(member_id=member_id, status=self.status_of(member_id), **context)
        for a in absent:
            self._absent(member_id=a.member_id, status=self.status_of(a.member_id), excused=a.excused,
                         reason=a.reason.strip(), **context)

    def _check_complete(self, also: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        missing = [e["member_id"] for e in self.roster if e["member_id"] not in self.attendance
                   and e["member_id"] not in also]
        if missing:
            raise _refuse("absent", "attendance.complete",
                          f"no attendance recorded for {', '.join(missing)}: list each summoned member as present "
                          "or absent",
                          f"chưa ghi có mặt hay vắng mặt cho {', '.join(missing)}: mỗi đảng viên được triệu tập "
                          "phải được ghi là có mặt hoặc vắng mặt")

    @event("MemberAttended")
    def _attended(self, member_id: str, status: str, cell_id: uuid.UUID, occurred_at: dt.datetime,
                  org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        self.attendance[member_id] = {"present": True}

    @event("MemberAbsent")
    def _absent(self, member_id: str, status: str, excused: bool, reason: str, cell_id: uuid.UUID,
                occurred_at: dt.datetime, org_path: list[str], recorded_by: str,
                correlation_id: str | None) -> None:
        self.attendance[member_id] = {"present": False, "excused": excused, "reason": reason}

    def record_guest(self, guest_id: str, full_name: str, is_assigned_supervisor: bool, by: str,
                     correlation_id: str | None) -> None:
        """A superior committee member attending (dự sinh hoạt); marked when assigned to this cell."""
        self.check_open()
        if self.entry(guest_id) is not None:
            raise _refuse("guest_id", "guest.not_member", f"{guest_id} is a member of this cell: record attendance",
                          f"{guest_id} là đảng viên của chi bộ: hãy ghi điểm danh")
        if guest_id in self.guests:
            raise _refuse("guest_id", "guest.once", f"{guest_id} is already recorded as a guest",
                          f"{guest_id} đã được ghi là khách mời")
        if not full_name.strip():
            raise _refuse("full_name", "guest.name", "a guest needs a name", "khách mời phải có họ tên")
        self._guest(guest_id=guest_id, full_name=full_name.strip(), is_assigned_supervisor=is_assigned_supervisor,
                    occurred_at=self.started_at, **self._ctx(by, correlation_id))

    @event("GuestAttended")
    def _guest(self, guest_id: str, full_name: str, is_assigned_supervisor: bool, occurred_at: dt.datetime,
               cell_id: uuid.UUID, org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        self.guests[guest_id] = {"full_name": full_name, "is_assigned_supervisor": is_assigned_supervisor}

    # ---- agenda, speakers ---------------------------------------------------------------------------------

    def cover_step(self, step: str, note: str, by: str, correlation_id: str | None) -> None:
        self.check_open()
        if step not in AGENDA_ORDER:
            raise _refuse("step", "agenda.step", f"must be one of {', '.join(AGENDA_ORDER)}",
                          f"phải là một trong: {', '.join(AGENDA_ORDER)}")
        covered = [a["step"] for a in self.agenda]
        if step in covered:
            raise _refuse("step", "agenda.once", f"{step} is already recorded", f"bước {term(step)} đã được ghi")
        if covered and AGENDA_ORDER.index(step) < AGENDA_ORDER.index(covered[-1]):
            raise _refuse("step", "agenda.order", f"{step} comes before {covered[-1]} in the order of a meeting",
                          f"bước {term(step)} phải diễn ra trước bước {term(covered[-1])} theo trình tự sinh hoạt")
        self._step(step=step, note=note.strip(), occurred_at=self.started_at, **self._ctx(by, correlation_id))

    @event("AgendaStepCovered")
    def _step(self, step: str, note: str, occurred_at: dt.datetime, cell_id: uuid.UUID, org_path: list[str],
              recorded_by: str, correlation_id: str | None) -> None:
        self.agenda.append({"step": step, "note": note})

    def record_speaker(self, member_id: str, gist: str, by: str, correlation_id: str | None) -> None:
        """Who spoke and the gist: a present member, a temporary participant or a guest who attended."""
        self.check_open()
        if self.entry(member_id) is not None:
            if not self.attendance.get(member_id, {}).get("present"):
                raise _refuse("member_id", "speaker.present", f"{member_id} is not recorded as present",
                              f"{member_id} chưa được ghi là có mặt")
        elif member_id not in self.guests and not self.is_temporary_participant(member_id):
            raise self._not_in_cell("member_id", member_id)
        if not gist.strip():
            raise _refuse("gist", "speaker.gist", "write the gist of what was said", "phải ghi tóm tắt ý kiến")
        self._spoke(member_id=member_id, gist=gist.strip(), occurred_at=self.started_at,
                    **self._ctx(by, correlation_id))

    @event("MemberSpoke")
    def _spoke(self, member_id: str, gist: str, occurred_at: dt.datetime, cell_id: uuid.UUID, org_path: list[str],
               recorded_by: str, correlation_id: str | None) -> None:
        self.speakers.append({"member_id": member_id, "gist": gist})

    def participation(self) -> float | None:
        """Share of present members who spoke (a quality figure)."""
        present = set(self.present_ids())
        if not present:
            return None
        spoke = {s["member_id"] for s in self.speakers} & present
        return round(len(spoke) / len(present), 4)

    # ---- resolutions --------------------------------------------------------------------------------------

    def vote(self, *, text: str, kind: str, votes_for: int, votes_against: int, abstentions: int,
             voters: list[str], decision_majority: str, admission_majority: str, by: str,
             correlation_id: str | None) -> uuid.UUID:
        """Propose a resolution and record its vote; returns the resolution id. Adopted or rejected by the rules."""
        self.check_open()
        if kind not in RESOLUTION_KINDS:
            raise _refuse("kind", "resolution.kind", f"must be one of {', '.join(RESOLUTION_KINDS)}",
                          f"phải là một trong: {', '.join(RESOLUTION_KINDS)}")
        if not text.strip():
            raise _refuse("text", "resolution.text", "a resolution needs its text", "nghị quyết phải có nội dung")
        eligible = set(self.eligible_voters())
        counting.check_voters(self.roster, voters, eligible)
        counting.check_tally(votes_for, votes_against, abstentions, voters)
        base = self.voting_base()
        adopted, reason, threshold = counting.outcome(kind, votes_for, self.roster, self.attendance,
                                                      decision_majority, admission_majority)
        seq = len(self.resolutions) + 1
        resolution_id = resolution_id_for(self.id, seq)
        fields = {"resolution_id": resolution_id, "seq": seq, "kind": kind, "text": text.strip(),
                  "votes_for": votes_for, "votes_against": votes_against, "abstentions": abstentions,
                  "voting_base": len(base), "eligible_voters": sorted(eligible), "voters": list(voters),
                  "threshold": threshold, "reason": reason, "occurred_at": self.started_at}
        if adopted:
            self._passed(**fields, **self._ctx(by, correlation_id))
        else:
            self._rejected(**fields, **self._ctx(by, correlation_id))
        return resolution_id

    def _add_resolution(self, adopted: bool, fields: dict[str, Any]) -> None:
        skip = ("self", "occurred_at", "cell_id", "org_path", "recorded_by", "correlation_id")
        self.resolutions.append({k: v for k, v in fields.items() if k not in skip} | {"adopted": adopted})

    @event("ResolutionPassed")
    def _passed(self, resolution_id: uuid.UUID, seq: int, kind: str, text: str, votes_for: int, votes_against: int,
                abstentions: int, voting_base: int, eligible_voters: list[str], voters: list[str], threshold: str,
                reason: str, occurred_at: dt.datetime, cell_id: uuid.UUID, org_path: list[str], recorded_by: str,
                correlation_id: str | None) -> None:
        self._add_resolution(True, dict(locals()))

    @event("ResolutionRejected")
    def _rejected(self, resolution_id: uuid.UUID, seq: int, kind: str, text: str, votes_for: int,
                  votes_against: int, abstentions: int, voting_base: int, eligible_voters: list[str],
                  voters: list[str], threshold: str, reason: str, occurred_at: dt.datetime, cell_id: uuid.UUID,
                  org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        self._add_resolution(False, dict(locals()))

    def review(self, *, resolution_id: uuid.UUID, resolution_cell_id: uuid.UUID | None,
               resolution_meeting_id: uuid.UUID | None, resolution_date: dt.date | None, outcome: str, note: str,
               by: str, correlation_id: str | None) -> None:
        """Follow-up of an earlier resolution of the same cell (implemented / partly / not)."""
        self.check_open()
        if resolution_cell_id is None or resolution_meeting_id is None or resolution_date is None:
            raise _refuse("resolution_id", "review.known", f"no resolution {resolution_id} is known",
                          f"không có nghị quyết {resolution_id}")
        if resolution_cell_id != self.cell_id:
            raise _refuse("resolution_id", "review.same_cell",
                          "the resolution belongs to another cell: a cell reviews its own resolutions",
                          "nghị quyết thuộc chi bộ khác: chi bộ chỉ kiểm điểm nghị quyết của mình")
        if resolution_meeting_id == self.id or resolution_date > self.date:
            raise _refuse("resolution_id", "review.later_meeting",
                          "a resolution is reviewed at a later meeting than the one that voted it",
                          "nghị quyết được kiểm điểm ở buổi sinh hoạt sau buổi đã thông qua nó")
        if outcome not in REVIEW_OUTCOMES:
            raise _refuse("outcome", "review.outcome", f"must be one of {', '.join(REVIEW_OUTCOMES)}",
                          f"phải là một trong: {', '.join(REVIEW_OUTCOMES)}")
        if any(r["resolution_id"] == resolution_id for r in self.reviews):
            raise _refuse("resolution_id", "review.once", "this resolution is already reviewed at this meeting",
                          "nghị quyết này đã được kiểm điểm trong buổi sinh hoạt này")
        self._reviewed(resolution_id=resolution_id, resolution_meeting_id=resolution_meeting_id, outcome=outcome,
                       note=note.strip(), occurred_at=self.started_at, **self._ctx(by, correlation_id))

    @event("ResolutionReviewed")
    def _reviewed(self, resolution_id: uuid.UUID, resolution_meeting_id: uuid.UUID, outcome: str, note: str,
                  occurred_at: dt.datetime, cell_id: uuid.UUID, org_path: list[str], recorded_by: str,
                  correlation_id: str | None) -> None:
        self.reviews.append({"resolution_id": resolution_id, "resolution_meeting_id": resolution_meeting_id,
                             "outcome": outcome, "note": note})

    # ---- dues ---------------------------------------------------------------------------------------------

    def collect_dues(self, member_id: str, month: str, paid: bool, by: str, correlation_id: str | None) -> None:
        self.check_open()
        if self.entry(member_id) is None:
            raise self._not_in_cell("member_id", member_id)
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            raise _refuse("month", "dues.month", "must be a month as YYYY-MM", "phải là tháng dạng YYYY-MM")
        if member_id in self.dues and self.dues[member_id]["month"] == month:
            raise _refuse("member_id", "dues.once", f"dues of {month} are already recorded for {member_id}",
                          f"đảng phí tháng {month} của {member_id} đã được ghi")
        self._dues(member_id=member_id, month=month, paid=paid, occurred_at=self.started_at,
                   **self._ctx(by, correlation_id))

    @event("DuesCollected")
    def _dues(self, member_id: str, month: str, paid: bool, occurred_at: dt.datetime, cell_id: uuid.UUID,
              org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        self.dues[member_id] = {"month": month, "paid": paid}

    # ---- closing and corrections --------------------------------------------------------------------------

    def close(self, approved_at: dt.datetime, required_steps: tuple[str, ...], min_minutes: int, by: str,
              correlation_id: str | None) -> None:
        """Minutes approved at the meeting: every summoned member must be accounted for.

        Recorded with the quality flags of the policy in force: full procedure (regular and combined meetings)
        and a duration below the minimum for the kind (recorded, not refused).
        """
        self.check_open()
        self._check_complete()
        full = self.full_procedure(required_steps) if self.kind != "thematic" else None
        self._closed(minutes_approved_at=approved_at, full_procedure=full, minutes=self.minutes,
                     below_minimum_duration=self.minutes < min_minutes, **self._ctx(by, correlation_id))

    @event("Closed")
    def _closed(self, minutes_approved_at: dt.datetime, full_procedure: bool | None, minutes: int,
                below_minimum_duration: bool, cell_id: uuid.UUID, org_path: list[str], recorded_by: str,
                correlation_id: str | None) -> None:
        self.status = "closed"
        self.closed_at = minutes_approved_at

    def correct(self, path: str, value: Any, reason: str, by: str, correlation_id: str | None) -> None:
        """A signed correction (đính chính): the original events stay; the read view shows the new value."""
        if self.status not in ("held", "closed"):
            raise _refuse("meeting_id", "correction.held", "only a held meeting's record can be corrected",
                          "chỉ đính chính được biên bản của buổi sinh hoạt đã diễn ra")
        if not reason.strip():
            raise _refuse("reason", "correction.reason", "a correction needs its reason", "đính chính phải có lý do")
        old, new = corrections.old_and_new(self, path, value)
        if old == new:
            raise _refuse("value", "correction.changes", "the value is unchanged", "giá trị không thay đổi")
        self._corrected(path=path, old_value=old, new_value=new, reason=reason.strip(),
                        occurred_at=self.started_at, **self._ctx(by, correlation_id))

    @event("Corrected")
    def _corrected(self, path: str, old_value: Any, new_value: Any, reason: str, occurred_at: dt.datetime,
                   cell_id: uuid.UUID, org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        corrections.apply(self, path, new_value)
        self.corrections.append({"path": path, "old_value": old_value, "new_value": new_value, "reason": reason,
                                 "recorded_by": recorded_by})


class ResolutionClaim(Aggregate):
    """Index entry of a resolution (id = the resolution id): which meeting and cell voted it, and when.

    Saved with the vote, so a later review finds the resolution's cell without scanning meetings.
    """

    @event("Claimed")
    def __init__(self, id: uuid.UUID, meeting_id: uuid.UUID, cell_id: uuid.UUID, date: dt.date, text: str):
        self.meeting_id = meeting_id
        self.cell_id = cell_id
        self.date = date
        self.text = text


_CALENDAR_NS = uuid.UUID("9d2e3c61-3a0f-4b57-8c4e-2a7d1b5e6f08")


class CellCalendar(Aggregate):
    """The ids of a cell's meetings (id derived from the cell id), for listing a cell's meetings by date."""

    @staticmethod
    def id_for(cell_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(_CALENDAR_NS, str(cell_id))

    @event("Opened")
    def __init__(self, id: uuid.UUID, cell_id: uuid.UUID):
        self.cell_id = cell_id
        self.meetings: list[str] = []

    @event("Listed")
    def list_meeting(self, meeting_id: uuid.UUID) -> None:
        self.meetings.append(str(meeting_id))


def check_kind_and_topic(kind: str, topic: str | None) -> None:
    if kind not in MEETING_KINDS:
        raise DomainError("kind", f"must be one of {', '.join(MEETING_KINDS)}",
                          rule="meeting.kind", vi=f"phải là một trong: {', '.join(MEETING_KINDS)}")
    if kind in ("thematic", "combined") and not (topic or "").strip():
        raise _refuse("topic", "thematic.topic", "a thematic meeting needs its topic",
                      "sinh hoạt chuyên đề phải có chủ đề")


def check_held_facts(*, kind: str, topic: str | None, date: dt.date, today: dt.date, started_at: dt.datetime,
                     ended_at: dt.datetime, roster: list[dict[str, str]], chair_id: uuid.UUID | None,
                     minute_taker_id: uuid.UUID | None, cell_effective_from: dt.date | None,
                     cell_ended_on: dt.date | None) -> None:
    """The rules a held meeting's facts satisfy, whether recorded in one go or from a schedule."""
    check_kind_and_topic(kind, topic)
    if date > today:
        raise _refuse("date", "date.not_future", "a meeting cannot be recorded as held in the future",
                      "không thể ghi nhận một buổi sinh hoạt diễn ra trong tương lai")
    if cell_effective_from is not None and date < cell_effective_from:
        raise _refuse("date", "cell.existed", f"is before the cell existed ({cell_effective_from})",
                      f"trước ngày thành lập chi bộ ({vn_date(cell_effective_from)})")
    if cell_ended_on is not None and date >= cell_ended_on:
        raise _refuse("date", "cell.existed", f"the cell was merged or dissolved on {cell_ended_on}",
                      f"chi bộ đã hợp nhất hoặc giải thể từ ngày {vn_date(cell_ended_on)}")
    if ended_at <= started_at:
        raise _refuse("end_time", "time.end_after_start", "must be after the start time",
                      "giờ kết thúc phải sau giờ bắt đầu")
    if not roster:
        raise _refuse("cell_id", "roster.empty", f"the cell had no members on {date.isoformat()}",
                      f"chi bộ không có đảng viên nào vào ngày {vn_date(date)}")
    summoned = {e["member_id"] for e in roster}
    for field, person in (("chair_id", chair_id), ("minute_taker_id", minute_taker_id)):
        if person is not None and str(person) not in summoned:
            raise _refuse(field, "attendance.roster", f"{person} was not a member of this cell on {date.isoformat()}",
                          f"{person} không phải đảng viên của chi bộ vào ngày {vn_date(date)}")


def check_cell(cell_id: uuid.UUID, cell_kind: str | None) -> None:
    if cell_kind is None:
        raise _refuse("cell_id", "cell.exists", f"no cell {cell_id} is known (yet) to the meetings service",
                      f"dịch vụ sinh hoạt chưa biết chi bộ {cell_id}")
    if cell_kind != "cell":
        raise _refuse("cell_id", "cell.kind", f"meetings are held by cells; this unit is a {cell_kind}",
                      f"chỉ chi bộ mới tổ chức sinh hoạt chi bộ; đơn vị này là {term(cell_kind)}")


def hold_meeting(
    *,
    cell_kind: str | None,
    cell_id: uuid.UUID,
    cell_effective_from: dt.date | None,
    org_path: list[str],
    kind: str,
    topic: str | None,
    date: dt.date,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    place: str,
    chair_id: uuid.UUID | None,
    minute_taker_id: uuid.UUID | None,
    roster: list[dict[str, str]],
    today: dt.date,
    policy_version: str,
    by: str,
    correlation_id: str | None,
    cell_ended_on: dt.date | None = None,
    meeting_id: uuid.UUID | None = None,
    temporary_participants: list[dict[str, str]] | None = None,
) -> Meeting:
    """A meeting recorded as held in one command (the one-form API)."""
    check_cell(cell_id, cell_kind)
    check_held_facts(kind=kind, topic=topic, date=date, today=today, started_at=started_at, ended_at=ended_at,
                     roster=roster, chair_id=chair_id, minute_taker_id=minute_taker_id,
                     cell_effective_from=cell_effective_from, cell_ended_on=cell_ended_on)
    return Meeting._create(
        Meeting.Held, id=meeting_id or uuid.uuid4(),
        cell_id=cell_id, kind=kind, topic=(topic or "").strip() or None, date=date, started_at=started_at,
        ended_at=ended_at, place=place.strip(), chair_id=chair_id, minute_taker_id=minute_taker_id,
        roster=roster, policy_version=policy_version, org_path=org_path, recorded_by=by,
        correlation_id=correlation_id, temporary_participants=temporary_participants or [],
    )


def schedule_meeting(*, cell_kind: str | None, cell_id: uuid.UUID, cell_ended_on: dt.date | None,
                     org_path: list[str], kind: str, topic: str | None, scheduled_for: dt.datetime, place: str,
                     summoned: list[dict[str, str]], guests: list[dict[str, str]], by: str,
                     correlation_id: str | None) -> Meeting:
    check_cell(cell_id, cell_kind)
    check_kind_and_topic(kind, topic)
    if cell_ended_on is not None and scheduled_for.date() >= cell_ended_on:
        raise _refuse("date", "cell.existed", f"the cell was merged or dissolved on {cell_ended_on}",
                      f"chi bộ đã hợp nhất hoặc giải thể từ ngày {vn_date(cell_ended_on)}")
    return Meeting._create(
        Meeting.Scheduled, id=uuid.uuid4(), cell_id=cell_id, kind=kind, topic=(topic or "").strip() or None,
        scheduled_for=scheduled_for, place=place.strip(), summoned=summoned, guests=guests, org_path=org_path,
        recorded_by=by, correlation_id=correlation_id,
    )

