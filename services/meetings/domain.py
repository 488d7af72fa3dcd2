"""The Meeting aggregate and the rules for recording a held meeting. No framework code."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from eventsourcing.domain import Aggregate, event

from shared.errors import DomainError
from shared.i18n import term, vn_date

MEETING_KINDS = ("regular", "thematic", "combined")


@dataclass(frozen=True)
class Absence:
    member_id: str
    excused: bool
    reason: str


class Meeting(Aggregate):
    """A cell meeting (buổi sinh hoạt chi bộ). Held: its roster is frozen with each member's status."""

    @event("Held")
    def __init__(
        self,
        cell_id: uuid.UUID,
        kind: str,
        topic: str | None,
        date: dt.date,
        started_at: dt.datetime,
        ended_at: dt.datetime,
        place: str,
        chair_id: uuid.UUID | None,
        minute_taker_id: uuid.UUID | None,
        roster: list[dict[str, str]],
        policy_version: str,
        org_path: list[str],
        recorded_by: str,
        correlation_id: str | None,
    ):
        self.cell_id = cell_id
        self.kind = kind
        self.topic = topic
        self.date = date
        self.started_at = started_at
        self.ended_at = ended_at
        self.place = place
        self.chair_id = chair_id
        self.minute_taker_id = minute_taker_id
        self.roster = roster
        self.policy_version = policy_version
        self.org_path = org_path
        self.attendance: dict[str, dict[str, object]] = {}

    def status_of(self, member_id: str) -> str:
        for entry in self.roster:
            if entry["member_id"] == member_id:
                return entry["status"]
        raise DomainError("member_id", f"{member_id} is not on this meeting's roster", rule="attendance.roster",
                          vi=f"{member_id} không có trong danh sách triệu tập của buổi sinh hoạt")

    def record_attendance(self, present: list[str], absent: list[Absence], by: str,
                          correlation_id: str | None) -> None:
        """Record every summoned member as present or absent (excused or not), each exactly once."""
        seen: set[str] = set()
        for field, ids in (("present", present), ("absent", [a.member_id for a in absent])):
            for i, member_id in enumerate(ids):
                if member_id in seen or member_id in self.attendance:
                    raise DomainError(f"{field}.{i}", f"{member_id} is listed twice", rule="attendance.once",
                                      vi=f"{member_id} được ghi hai lần")
                seen.add(member_id)
                try:
                    self.status_of(member_id)
                except DomainError:
                    raise DomainError(
                        f"{field}.{i}",
                        f"{member_id} was not a member of this cell on {self.date.isoformat()}",
                        rule="attendance.roster",
                        vi=f"{member_id} không phải đảng viên của chi bộ vào ngày {vn_date(self.date)}",
                    ) from None
        for i, absence in enumerate(absent):
            if absence.excused and not absence.reason.strip():
                raise DomainError(f"absent.{i}.reason", "an excused absence needs its reason",
                                  rule="attendance.excuse_reason", vi="vắng có lý do thì phải ghi lý do")
        missing = [e["member_id"] for e in self.roster if e["member_id"] not in seen]
        if missing:
            raise DomainError("absent", f"no attendance recorded for {', '.join(missing)}: list each summoned "
                              "member as present or absent", rule="attendance.complete",
                              vi=f"chưa ghi có mặt hay vắng mặt cho {', '.join(missing)}: mỗi đảng viên được "
                                 "triệu tập phải được ghi là có mặt hoặc vắng mặt")
        # Each attendance event is self-contained (cell, when, where in the tree), for the relay and consumers.
        context = {"cell_id": self.cell_id, "occurred_at": self.started_at, "org_path": self.org_path,
                   "recorded_by": by, "correlation_id": correlation_id}
        for member_id in present:
            self._attended(member_id=member_id, status=self.status_of(member_id), **context)
        for a in absent:
            self._absent(member_id=a.member_id, status=self.status_of(a.member_id), excused=a.excused,
                         reason=a.reason.strip(), **context)

    @event("MemberAttended")
    def _attended(self, member_id: str, status: str, cell_id: uuid.UUID, occurred_at: dt.datetime,
                  org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        self.attendance[member_id] = {"present": True}

    @event("MemberAbsent")
    def _absent(self, member_id: str, status: str, excused: bool, reason: str, cell_id: uuid.UUID,
                occurred_at: dt.datetime, org_path: list[str], recorded_by: str,
                correlation_id: str | None) -> None:
        self.attendance[member_id] = {"present": False, "excused": excused, "reason": reason}

    @property
    def minutes(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds() // 60)


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
) -> Meeting:
    if cell_kind is None:
        raise DomainError("cell_id", f"no cell {cell_id} is known (yet) to the meetings service",
                          rule="cell.exists", vi=f"dịch vụ sinh hoạt chưa biết chi bộ {cell_id}")
    if cell_kind != "cell":
        raise DomainError("cell_id", f"meetings are held by cells; this unit is a {cell_kind}", rule="cell.kind",
                          vi=f"chỉ chi bộ mới tổ chức sinh hoạt chi bộ; đơn vị này là {term(cell_kind)}")
    if kind not in MEETING_KINDS:
        raise DomainError("kind", f"must be one of {', '.join(MEETING_KINDS)}",
                          vi=f"phải là một trong: {', '.join(MEETING_KINDS)}")
    if kind in ("thematic", "combined") and not (topic or "").strip():
        raise DomainError("topic", "a thematic meeting needs its topic", rule="thematic.topic",
                          vi="sinh hoạt chuyên đề phải có chủ đề")
    if date > today:
        raise DomainError("date", "a meeting cannot be recorded as held in the future", rule="date.not_future",
                          vi="không thể ghi nhận một buổi sinh hoạt diễn ra trong tương lai")
    if cell_effective_from is not None and date < cell_effective_from:
        raise DomainError("date", f"is before the cell existed ({cell_effective_from})", rule="cell.existed",
                          vi=f"trước ngày thành lập chi bộ ({vn_date(cell_effective_from)})")
    if ended_at <= started_at:
        raise DomainError("end_time", "must be after the start time", rule="time.end_after_start",
                          vi="giờ kết thúc phải sau giờ bắt đầu")
    if not roster:
        raise DomainError("cell_id", f"the cell had no members on {date.isoformat()}", rule="roster.empty",
                          vi=f"chi bộ không có đảng viên nào vào ngày {vn_date(date)}")
    summoned = {e["member_id"] for e in roster}
    for field, person in (("chair_id", chair_id), ("minute_taker_id", minute_taker_id)):
        if person is not None and str(person) not in summoned:
            raise DomainError(field, f"{person} was not a member of this cell on {date.isoformat()}",
                              rule="attendance.roster",
                              vi=f"{person} không phải đảng viên của chi bộ vào ngày {vn_date(date)}")
    return Meeting(
        cell_id=cell_id, kind=kind, topic=(topic or "").strip() or None, date=date, started_at=started_at,
        ended_at=ended_at, place=place.strip(), chair_id=chair_id, minute_taker_id=minute_taker_id,
        roster=roster, policy_version=policy_version, org_path=org_path, recorded_by=by,
        correlation_id=correlation_id,
    )
