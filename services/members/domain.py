"""Aggregates of the members service. No framework code: plain eventsourcing aggregates and rules.

Every command takes `by` (who records it) and `correlation_id` (which request); both are stored on each
event so the audit trail can answer "who recorded this, from where". Every event also carries `org_path`,
the path of the unit (or of the member's cell) in the tree when the event was recorded: the application
computes it from the live tree, because a move of an ancestor changes it.

Each aggregate keeps its own dated timeline, so the rules about dates are checked here: a change may not be
dated before the record began, nor before its latest change ("date order"); a record that has ended
(a dissolved or merged unit, a removed member) takes no further change.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.members.timeline import add_months, as_of
from services.members.tree import ALLOWED_PARENTS as ALLOWED_PARENTS  # re-exported: tests patch the kinds
from services.members.tree import MERGE_GROUPS, check_no_cycle, check_parent_kind
from shared.errors import DomainError
from shared.i18n import term, vn_date

UNIT_KINDS = ("city", "district", "ward", "commune", "base_organisation", "cell")
BLOCKS = ("residential", "administrative", "enterprise", "armed_forces")
EXEMPTION_REASONS = ("age", "health", "long_treatment", "work_abroad", "other")
REMOVAL_REASONS = ("struck_off", "expelled", "deceased", "moved_away")  # xóa tên, khai trừ, từ trần, chuyển đi
TRANSFER_KINDS = ("official", "temporary")

_INDEX_NS = uuid.UUID("0b6f2c0e-3d1a-4f5e-8c2b-9e7d6a5b4c3d")


def _not_future(field: str, day: dt.date, today: dt.date) -> None:
    if day > today:
        raise DomainError(field, "cannot be in the future", rule="date.not_future",
                          vi="không thể là ngày trong tương lai")


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DomainError(field, f"must be one of {', '.join(allowed)}", rule="value.one_of",
                          vi=f"phải là một trong: {', '.join(allowed)}")


class OrgUnit(Aggregate):
    """A unit of the party organisation tree: thành phố, quận/huyện, đảng bộ phường/xã, chi bộ.

    A cell also holds the committee members assigned to follow it (supervisors), each with dated spells.
    """

    @event("Created")
    def __init__(
        self,
        id: uuid.UUID,
        kind: str,
        name: str,
        code: str,
        parent_id: uuid.UUID | None,
        block: str | None,
        effective_from: dt.date,
        org_path: list[str],
        recorded_by: str,
        correlation_id: str | None,
    ):
        self.kind = kind
        self.name = name
        self.code = code
        self.parent_id = parent_id
        self.block = block
        self.effective_from = effective_from
        self.org_path = org_path
        self.names: list[tuple[dt.date, str]] = [(effective_from, name)]
        self.parents: list[tuple[dt.date, uuid.UUID | None]] = [(effective_from, parent_id)]
        self.last_change = effective_from
        self.ended_on: dt.date | None = None
        self.end_reason: str | None = None  # dissolved | merged
        self.merged_into: uuid.UUID | None = None
        # supervisor (member) id -> spells [from, until|None]
        self.supervisors: dict[uuid.UUID, list[list[dt.date | None]]] = {}

    @property
    def is_cell(self) -> bool:  # chi bộ
        return self.kind == "cell"

    # --- timeline ---------------------------------------------------------------------------------------

    def exists_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.ended_on is None or day < self.ended_on)

    def parent_on(self, day: dt.date) -> uuid.UUID | None:
        return as_of(self.parents, day)

    def name_on(self, day: dt.date) -> str | None:
        return as_of(self.names, day)

    def parent_change_dates(self) -> list[dt.date]:
        return [since for since, _ in self.parents]

    def check_open(self, field: str = "unit_id") -> None:
        """Refuse a change of a unit that was dissolved or merged."""
        if self.ended_on is not None:
            how = "merged into another unit" if self.end_reason == "merged" else "dissolved"
            how_vi = "đã hợp nhất vào đơn vị khác" if self.end_reason == "merged" else "đã giải thể"
            raise DomainError(field, f"the {self.kind} {self.code} was {how} on {self.ended_on}", rule="unit.ended",
                              vi=f"{term(self.kind)} {self.code} {how_vi} từ {vn_date(self.ended_on)}")

    def check_exists_on(self, day: dt.date, field: str = "effective_from") -> None:
        """Refuse a date before the unit existed."""
        if day < self.effective_from:
            raise DomainError(field, f"is before the {self.kind} {self.code} existed ({self.effective_from})",
                              rule="unit.before_created",
                              vi=f"trước ngày thành lập {term(self.kind)} {self.code} "
                                 f"({vn_date(self.effective_from)})")

    def _check_change(self, day: dt.date, today: dt.date) -> None:
        self.check_open()
        self.check_exists_on(day)
        _not_future("effective_from", day, today)
        if day < self.last_change:
            raise DomainError("effective_from", f"is before the unit's latest recorded change ({self.last_change})",
                              rule="unit.date_order",
                              vi=f"trước lần thay đổi gần nhất của đơn vị ({vn_date(self.last_change)})")

    # --- commands ---------------------------------------------------------------------------------------

    def rename(self, *, name: str, effective_from: dt.date, today: dt.date, org_path: list[str], by: str,
               correlation_id: str | None) -> None:
        self._check_change(effective_from, today)
        name = " ".join(name.split())
        if name == self.name:
            raise DomainError("name", "is the unit's current name", rule="unit.same_name",
                              vi="trùng với tên hiện tại của đơn vị")
        self._renamed(old_name=self.name, new_name=name, effective_from=effective_from, org_path=org_path,
                      recorded_by=by, correlation_id=correlation_id)

    @event("Renamed")
    def _renamed(self, old_name: str, new_name: str, effective_from: dt.date, org_path: list[str],
                 recorded_by: str, correlation_id: str | None) -> None:
        self.name = new_name
        self.names.append((effective_from, new_name))
        self.last_change = effective_from

    def move(self, *, new_parent: OrgUnit, effective_from: dt.date, today: dt.date,
             get_unit: Callable[[uuid.UUID], OrgUnit | None], org_path: list[str], by: str,
             correlation_id: str | None, field: str = "new_parent_id") -> None:
        """Move under `new_parent` from `effective_from` (the 2025 reorganisation: districts abolished).

        Refused when the unit would become its own ancestor on any day from `effective_from` on
        (`tree.check_no_cycle`).
        """
        self._check_change(effective_from, today)
        new_parent.check_open(field)
        new_parent.check_exists_on(effective_from)
        if new_parent.id == self.id:
            raise DomainError(field, "a unit cannot stand under itself", rule="tree.cycle",
                              vi="một đơn vị không thể trực thuộc chính nó")
        if new_parent.id == self.parent_id:
            raise DomainError(field, "the unit already stands under this parent", rule="unit.same_parent",
                              vi="đơn vị đã trực thuộc đơn vị cấp trên này")
        check_parent_kind(self.kind, new_parent.kind, field)
        check_no_cycle(self.id, new_parent, effective_from, get_unit, field)
        self._moved(old_parent_id=self.parent_id, new_parent_id=new_parent.id, effective_from=effective_from,
                    org_path=org_path, recorded_by=by, correlation_id=correlation_id)

    @event("Moved")
    def _moved(self, old_parent_id: uuid.UUID | None, new_parent_id: uuid.UUID, effective_from: dt.date,
               org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        self.parent_id = new_parent_id
        self.parents.append((effective_from, new_parent_id))
        self.org_path = org_path
        self.last_change = effective_from

    def merge_into(self, *, target: OrgUnit, effective_from: dt.date, today: dt.date, org_path: list[str],
                   by: str, correlation_id: str | None) -> None:
        """This unit (a source of a merge) ends, absorbed by `target`."""
        try:
            self._check_change(effective_from, today)
        except DomainError as exc:
            raise DomainError("source_ids", f"{self.code}: {exc.message}", rule=exc.rule,
                              vi=f"{self.code}: {exc.vi}") from None
        self._merged_into(target_id=target.id, effective_from=effective_from, org_path=org_path, recorded_by=by,
                          correlation_id=correlation_id)

    @event("MergedInto")
    def _merged_into(self, target_id: uuid.UUID, effective_from: dt.date, org_path: list[str], recorded_by: str,
                     correlation_id: str | None) -> None:
        self.ended_on = effective_from
        self.end_reason = "merged"
        self.merged_into = target_id
        self.last_change = effective_from

    def absorb(self, *, sources: list[OrgUnit], effective_from: dt.date, today: dt.date,
               ancestors: list[uuid.UUID], org_path: list[str], by: str, correlation_id: str | None) -> None:
        """Record on the target that `sources` merge into it (CellsMerged). `ancestors`: the target's."""
        self.check_open("target_id")
        self.check_exists_on(effective_from)
        _not_future("effective_from", effective_from, today)
        if not sources:
            raise DomainError("source_ids", "name at least one unit to merge", rule="merge.no_source",
                              vi="cần ít nhất một đơn vị để hợp nhất")
        ids = [s.id for s in sources]
        if len(set(ids)) != len(ids):
            raise DomainError("source_ids", "a unit is named twice", rule="merge.duplicate_source",
                              vi="một đơn vị được nêu hai lần")
        if self.id in ids:
            raise DomainError("target_id", "a unit cannot be merged into itself", rule="merge.into_itself",
                              vi="không thể hợp nhất một đơn vị vào chính nó")
        group = MERGE_GROUPS.get(self.kind)
        for s in sources:
            if group is None or MERGE_GROUPS.get(s.kind) != group:
                raise DomainError("source_ids", f"a {s.kind} cannot be merged into a {self.kind}",
                                  rule="merge.same_kind", vi=f"không thể hợp nhất {term(s.kind)} vào {term(self.kind)}")
            if s.id in ancestors:
                raise DomainError("target_id", f"the target stands under {s.code}, a unit being merged: the tree would "
                                  "have a cycle", rule="tree.cycle",
                                  vi=f"đơn vị nhận hợp nhất trực thuộc {s.code}, một đơn vị bị hợp nhất: "
                                     "cây tổ chức sẽ bị vòng lặp")
        self._absorbed(source_ids=ids, kind=self.kind, effective_from=effective_from, org_path=org_path,
                       recorded_by=by, correlation_id=correlation_id)

    @event("Absorbed")
    def _absorbed(self, source_ids: list[uuid.UUID], kind: str, effective_from: dt.date, org_path: list[str],
                  recorded_by: str, correlation_id: str | None) -> None:
        pass

    def dissolve(self, *, reason: str, effective_from: dt.date, today: dt.date, org_path: list[str], by: str,
                 correlation_id: str | None) -> None:
        self._check_change(effective_from, today)
        self._dissolved(reason=reason.strip(), effective_from=effective_from, org_path=org_path, recorded_by=by,
                        correlation_id=correlation_id)

    @event("Dissolved")
    def _dissolved(self, reason: str, effective_from: dt.date, org_path: list[str], recorded_by: str,
                   correlation_id: str | None) -> None:
        self.ended_on = effective_from
        self.end_reason = "dissolved"
        self.last_change = effective_from

    # --- supervision (committee members assigned to follow a cell) --------------------------------------

    def supervisor_since(self, supervisor_id: uuid.UUID) -> dt.date | None:
        """The day the supervisor's current (open) assignment began, or None when not assigned."""
        spells = self.supervisors.get(supervisor_id) or []
        if spells and spells[-1][1] is None:
            return spells[-1][0]
        return None

    def assign_supervisor(self, *, supervisor: Member, effective_from: dt.date, today: dt.date,
                          org_path: list[str], by: str, correlation_id: str | None) -> None:
        if not self.is_cell:
            raise DomainError("cell_id", f"supervisors follow cells, and this unit is a {self.kind}",
                              rule="supervisor.cell_kind",
                              vi=f"cấp ủy viên được phân công theo dõi chi bộ; đơn vị này là {term(self.kind)}")
        self.check_open("cell_id")
        self.check_exists_on(effective_from)
        _not_future("effective_from", effective_from, today)
        supervisor.check_active("supervisor_id")
        if self.supervisor_since(supervisor.id) is not None:
            raise DomainError("supervisor_id", f"{supervisor.full_name} already follows this cell",
                              rule="supervisor.already_assigned",
                              vi=f"{supervisor.full_name} đã được phân công theo dõi chi bộ này")
        spells = self.supervisors.get(supervisor.id) or []
        if spells and effective_from < spells[-1][1]:
            raise DomainError("effective_from", f"is before the end of the previous assignment ({spells[-1][1]})",
                              rule="supervisor.date_order",
                              vi=f"trước ngày kết thúc lần phân công trước ({vn_date(spells[-1][1])})")
        self._supervisor_assigned(supervisor_id=supervisor.id, effective_from=effective_from, org_path=org_path,
                                  recorded_by=by, correlation_id=correlation_id)

    @event("SupervisorAssigned")
    def _supervisor_assigned(self, supervisor_id: uuid.UUID, effective_from: dt.date, org_path: list[str],
                             recorded_by: str, correlation_id: str | None) -> None:
        self.supervisors.setdefault(supervisor_id, []).append([effective_from, None])

    def unassign_supervisor(self, *, supervisor_id: uuid.UUID, effective_from: dt.date, today: dt.date,
                            org_path: list[str], by: str, correlation_id: str | None) -> None:
        since = self.supervisor_since(supervisor_id)
        if since is None:
            raise DomainError("supervisor_id", "is not assigned to this cell", rule="supervisor.not_assigned",
                              vi="không được phân công theo dõi chi bộ này")
        _not_future("effective_from", effective_from, today)
        if effective_from < since:
            raise DomainError("effective_from", f"is before the assignment began ({since})",
                              rule="supervisor.date_order", vi=f"trước ngày bắt đầu phân công ({vn_date(since)})")
        self._supervisor_unassigned(supervisor_id=supervisor_id, effective_from=effective_from, org_path=org_path,
                                    recorded_by=by, correlation_id=correlation_id)

    @event("SupervisorUnassigned")
    def _supervisor_unassigned(self, supervisor_id: uuid.UUID, effective_from: dt.date, org_path: list[str],
                               recorded_by: str, correlation_id: str | None) -> None:
        self.supervisors[supervisor_id][-1][1] = effective_from


def create_unit(
    *,
    kind: str,
    name: str,
    code: str,
    parent: OrgUnit | None,
    block: str | None,
    effective_from: dt.date,
    by: str,
    correlation_id: str | None = None,
    parent_path: list[str] | None = None,
) -> OrgUnit:
    """Validate and create a unit under `parent` (None for the root). `parent_path`: the parent's live path."""
    _one_of("kind", kind, UNIT_KINDS)
    check_parent_kind(kind, parent.kind if parent is not None else None)
    if kind == "cell" and block is None:
        raise DomainError("block", "a cell must belong to a block", rule="cell.block_required",
                          vi="chi bộ phải thuộc một khối")
    if kind != "cell" and block is not None:
        raise DomainError("block", "only cells have a block", rule="unit.block_cells_only",
                          vi="chỉ chi bộ mới có khối")
    if block is not None:
        _one_of("block", block, BLOCKS)
    if parent is not None:
        parent.check_open("parent_id")
        if effective_from < parent.effective_from:
            raise DomainError("effective_from", f"is before the parent unit existed ({parent.effective_from})",
                              rule="unit.after_parent",
                              vi=f"trước ngày thành lập đơn vị cấp trên ({vn_date(parent.effective_from)})")
    unit_id = uuid.uuid4()
    if parent is not None:
        path = [*(parent_path if parent_path is not None else parent.org_path), str(unit_id)]
    else:
        path = [str(unit_id)]
    return OrgUnit(
        id=unit_id,
        kind=kind,
        name=" ".join(name.split()),
        code=code.strip(),
        parent_id=parent.id if parent is not None else None,
        block=block,
        effective_from=effective_from,
        org_path=path,
        recorded_by=by,
        correlation_id=correlation_id,
    )


class Member(Aggregate):
    """A party member (đảng viên): the home cell (official activity), status, exemption, temporary transfers.

    A member has one home cell at a time: an official transfer changes it; a temporary transfer (sinh hoạt
    tạm thời) keeps it and adds a host cell for a spell [effective_from, until) — `until` is the day the
    member is back.
    """

    @event("Admitted")
    def __init__(
        self,
        code: str,
        full_name: str,
        cell_id: uuid.UUID,
        admitted_on: dt.date,
        status: str,
        official_since: dt.date | None,
        org_path: list[str],
        recorded_by: str,
        correlation_id: str | None,
        born_on: dt.date | None = None,
    ):
        self.code = code
        self.full_name = full_name
        self.cell_id = cell_id
        self.admitted_on = admitted_on
        self.status = status  # probationary (dự bị) | official (chính thức)
        self.official_since = official_since
        self.override_reason: str | None = None
        self.born_on = born_on
        self.org_path = org_path
        self.last_change = official_since or admitted_on
        self.exemption: dict[str, Any] | None = None  # {"reason", "note", "since"} while exempted
        self.temporaries: list[dict[str, Any]] = []  # {"cell_id", "from", "until"}
        self.removal: dict[str, Any] | None = None  # {"reason", "note", "on"}

    # --- state ------------------------------------------------------------------------------------------

    def temporary_on(self, day: dt.date) -> dict[str, Any] | None:
        for spell in self.temporaries:
            if spell["from"] <= day < spell["until"]:
                return spell
        return None

    def check_active(self, field: str = "member_id") -> None:
        if self.removal is not None:
            raise DomainError(field, f"{self.full_name} was removed from the register on {self.removal['on']} "
                              f"({self.removal['reason']})", rule="member.removed",
                              vi=f"{self.full_name} đã bị đưa ra khỏi danh sách đảng viên từ "
                                 f"{vn_date(self.removal['on'])}")

    def _check_change(self, day: dt.date, today: dt.date, field: str = "effective_from") -> None:
        self.check_active()
        _not_future(field, day, today)
        if day < self.admitted_on:
            raise DomainError(field, f"is before {self.full_name} was admitted ({self.admitted_on})",
                              rule="member.before_admission",
                              vi=f"trước ngày {self.full_name} được kết nạp ({vn_date(self.admitted_on)})")
        if day < self.last_change:
            raise DomainError(field, f"is before the latest recorded change for {self.full_name} "
                              f"({self.last_change})", rule="member.date_order",
                              vi=f"trước lần thay đổi gần nhất của {self.full_name} ({vn_date(self.last_change)})")

    # --- commands ---------------------------------------------------------------------------------------

    def confirm(self, *, official_since: dt.date, override_reason: str | None, probation_months: int,
                today: dt.date, org_path: list[str], by: str, correlation_id: str | None) -> None:
        """Confirm as official (công nhận đảng viên chính thức): a probationary member, after the probation."""
        self._check_change(official_since, today, field="official_since")
        if self.status != "probationary":
            raise DomainError("member_id", f"{self.full_name} is already an official member",
                              rule="member.not_probationary", vi=f"{self.full_name} đã là đảng viên chính thức")
        due = add_months(self.admitted_on, probation_months)
        reason = (override_reason or "").strip() or None
        if official_since < due and reason is None:
            raise DomainError("official_since", f"is before the end of the {probation_months}-month probation "
                              f"({due}); give an override_reason to confirm earlier", rule="member.probation_length",
                              vi=f"chưa hết {probation_months} tháng dự bị ({vn_date(due)}); cần nêu lý do "
                                 "(override_reason) để công nhận sớm")
        self._officialized(cell_id=self.cell_id, official_since=official_since, override_reason=reason,
                           org_path=org_path, recorded_by=by, correlation_id=correlation_id)

    @event("Officialized")
    def _officialized(self, cell_id: uuid.UUID, official_since: dt.date, override_reason: str | None,
                      org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        self.status = "official"
        self.official_since = official_since
        self.override_reason = override_reason
        self.last_change = official_since

    def exempt(self, *, reason: str, note: str, effective_from: dt.date, today: dt.date, org_path: list[str],
               by: str, correlation_id: str | None) -> None:
        """Exempt from work and activity (miễn công tác và sinh hoạt đảng)."""
        self._check_change(effective_from, today)
        _one_of("reason", reason, EXEMPTION_REASONS)
        if self.exemption is not None:
            raise DomainError("member_id", f"{self.full_name} is already exempted", rule="member.already_exempted",
                              vi=f"{self.full_name} đã được miễn sinh hoạt")
        self._exempted(cell_id=self.cell_id, reason=reason, note=note.strip(), effective_from=effective_from,
                       org_path=org_path, recorded_by=by, correlation_id=correlation_id)

    @event("Exempted")
    def _exempted(self, cell_id: uuid.UUID, reason: str, note: str, effective_from: dt.date, org_path: list[str],
                  recorded_by: str, correlation_id: str | None) -> None:
        self.exemption = {"reason": reason, "note": note, "since": effective_from}
        self.last_change = effective_from

    def lift_exemption(self, *, effective_from: dt.date, today: dt.date, org_path: list[str], by: str,
                       correlation_id: str | None) -> None:
        self._check_change(effective_from, today)
        if self.exemption is None:
            raise DomainError("member_id", f"{self.full_name} is not exempted", rule="member.not_exempted",
                              vi=f"{self.full_name} không được miễn sinh hoạt")
        self._exemption_lifted(cell_id=self.cell_id, effective_from=effective_from, org_path=org_path,
                               recorded_by=by, correlation_id=correlation_id)

    @event("ExemptionLifted")
    def _exemption_lifted(self, cell_id: uuid.UUID, effective_from: dt.date, org_path: list[str],
                          recorded_by: str, correlation_id: str | None) -> None:
        self.exemption = None
        self.last_change = effective_from

    def transfer(self, *, to_cell: OrgUnit, kind: str, effective_from: dt.date, until: dt.date | None,
                 today: dt.date, org_path: list[str], by: str, correlation_id: str | None,
                 reason: str = "") -> None:
        """Transfer to another cell: officially (the home cell changes) or temporarily (until a date)."""
        self._check_change(effective_from, today)
        if kind not in TRANSFER_KINDS:
            raise DomainError("kind", "must be official or temporary", rule="value.one_of",
                              vi="phải là chính thức hoặc tạm thời")
        if not to_cell.is_cell:
            raise DomainError("to_cell_id", f"members belong to a cell, and this unit is a {to_cell.kind}",
                              rule="member.cell_kind",
                              vi=f"đảng viên sinh hoạt ở chi bộ; đơn vị này là {term(to_cell.kind)}")
        to_cell.check_open("to_cell_id")
        to_cell.check_exists_on(effective_from)
        if to_cell.id == self.cell_id:
            raise DomainError("to_cell_id", f"{self.full_name} is already a member of this cell",
                              rule="transfer.same_cell", vi=f"{self.full_name} đang sinh hoạt ở chi bộ này")
        away = self.temporary_on(effective_from)
        last = self.temporaries[-1] if self.temporaries else None
        if kind == "temporary":
            if until is None:
                raise DomainError("until", "a temporary transfer needs the day the member is back",
                                  rule="transfer.until_required", vi="chuyển sinh hoạt tạm thời cần ngày trở về")
            if until <= effective_from:
                raise DomainError("until", "must be after effective_from", rule="transfer.until_after_start",
                                  vi="phải sau ngày bắt đầu")
            if last is not None and effective_from < last["until"]:
                raise DomainError("effective_from", f"{self.full_name} is temporarily elsewhere until "
                                  f"{last['until']}", rule="transfer.overlap",
                                  vi=f"{self.full_name} đang sinh hoạt tạm thời nơi khác đến {vn_date(last['until'])}")
        else:
            if until is not None:
                raise DomainError("until", "only a temporary transfer has an end", rule="transfer.until_temporary_only",
                                  vi="chỉ chuyển sinh hoạt tạm thời mới có ngày kết thúc")
            # A merge moves the home cell even of a member temporarily elsewhere: the spell goes on.
            if reason != "merge" and (away is not None or (last is not None and effective_from < last["until"])):
                end = (away or last)["until"]  # type: ignore[index]
                raise DomainError("effective_from", f"{self.full_name} is temporarily elsewhere until {end}: "
                                  "transfer officially from that day on", rule="transfer.temporary_active",
                                  vi=f"{self.full_name} đang sinh hoạt tạm thời nơi khác đến {vn_date(end)}")
        self._transferred(from_cell_id=self.cell_id, to_cell_id=to_cell.id, kind=kind, effective_from=effective_from,
                          until=until, reason=reason, org_path=org_path, recorded_by=by,
                          correlation_id=correlation_id)

    @event("Transferred")
    def _transferred(self, from_cell_id: uuid.UUID, to_cell_id: uuid.UUID, kind: str, effective_from: dt.date,
                     until: dt.date | None, reason: str, org_path: list[str], recorded_by: str,
                     correlation_id: str | None) -> None:
        if kind == "official":
            self.cell_id = to_cell_id
            self.org_path = org_path
        else:
            self.temporaries.append({"cell_id": to_cell_id, "from": effective_from, "until": until})
        self.last_change = effective_from

    def end_temporary_transfer(self, *, effective_from: dt.date, today: dt.date, org_path: list[str], by: str,
                               correlation_id: str | None) -> None:
        """End a temporary transfer early: back in the home cell from `effective_from`."""
        self._check_change(effective_from, today)
        spell = self.temporaries[-1] if self.temporaries else None
        if spell is None or not spell["from"] < effective_from < spell["until"]:
            raise DomainError("effective_from", f"{self.full_name} is not temporarily elsewhere before that day",
                              rule="transfer.no_temporary",
                              vi=f"{self.full_name} không sinh hoạt tạm thời nơi khác trước ngày đó")
        self._temporary_transfer_ended(home_cell_id=self.cell_id, host_cell_id=spell["cell_id"],
                                       effective_from=effective_from, org_path=org_path, recorded_by=by,
                                       correlation_id=correlation_id)

    @event("TemporaryTransferEnded")
    def _temporary_transfer_ended(self, home_cell_id: uuid.UUID, host_cell_id: uuid.UUID, effective_from: dt.date,
                                  org_path: list[str], recorded_by: str, correlation_id: str | None) -> None:
        self.temporaries[-1]["until"] = effective_from
        self.last_change = effective_from

    def remove(self, *, reason: str, note: str, effective_from: dt.date, today: dt.date, org_path: list[str],
               by: str, correlation_id: str | None) -> None:
        """Remove from the register: struck off (xóa tên), expelled (khai trừ), deceased, moved away."""
        self._check_change(effective_from, today)
        _one_of("reason", reason, REMOVAL_REASONS)
        self._removed(cell_id=self.cell_id, reason=reason, note=note.strip(), effective_from=effective_from,
                      org_path=org_path, recorded_by=by, correlation_id=correlation_id)

    @event("Removed")
    def _removed(self, cell_id: uuid.UUID, reason: str, note: str, effective_from: dt.date, org_path: list[str],
                 recorded_by: str, correlation_id: str | None) -> None:
        self.removal = {"reason": reason, "note": note, "on": effective_from}
        self.last_change = effective_from


def admit_member(
    *,
    code: str,
    full_name: str,
    cell: OrgUnit,
    admitted_on: dt.date,
    status: str,
    official_since: dt.date | None,
    today: dt.date,
    probation_months: int,
    by: str,
    correlation_id: str | None = None,
    born_on: dt.date | None = None,
    cell_path: list[str] | None = None,
) -> Member:
    """Admit a new member (probationary), or enter an existing official member into the register."""
    if not cell.is_cell:
        raise DomainError("cell_id", f"members belong to a cell, and this unit is a {cell.kind}",
                          rule="member.cell_kind", vi=f"đảng viên sinh hoạt ở chi bộ; đơn vị này là {term(cell.kind)}")
    cell.check_open("cell_id")
    if admitted_on > today:
        raise DomainError("admitted_on", "cannot be in the future", rule="date.not_future",
                          vi="không thể là ngày trong tương lai")
    if admitted_on < cell.effective_from:
        raise DomainError("admitted_on", f"is before the cell existed ({cell.effective_from})",
                          rule="member.after_cell", vi=f"trước ngày thành lập chi bộ ({vn_date(cell.effective_from)})")
    if born_on is not None and born_on >= admitted_on:
        raise DomainError("born_on", "must be before the admission", rule="member.born_before_admission",
                          vi="phải trước ngày kết nạp")
    if status == "probationary":
        if official_since is not None:
            raise DomainError("official_since", "a probationary member has no official date",
                              rule="member.probationary_no_official_date", vi="đảng viên dự bị chưa có ngày chính thức")
    elif status == "official":
        if official_since is None:
            raise DomainError("official_since", "is required for an official member",
                              rule="member.official_date_required", vi="bắt buộc với đảng viên chính thức")
        if official_since < add_months(admitted_on, probation_months):
            raise DomainError(
                "official_since",
                f"is less than {probation_months} months after admission (probation)",
                vi=f"chưa đủ {probation_months} tháng dự bị kể từ ngày kết nạp",
                rule="member.probation_length",
            )
        if official_since > today:
            raise DomainError("official_since", "cannot be in the future", rule="date.not_future",
                              vi="không thể là ngày trong tương lai")
    else:
        raise DomainError("status", "must be probationary or official", rule="value.one_of",
                          vi="phải là dự bị hoặc chính thức")
    return Member(
        code=code.strip(),
        full_name=" ".join(full_name.split()),
        cell_id=cell.id,
        admitted_on=admitted_on,
        status=status,
        official_since=official_since,
        org_path=list(cell_path if cell_path is not None else cell.org_path),
        recorded_by=by,
        correlation_id=correlation_id,
        born_on=born_on,
    )


class UniqueCode(Aggregate):
    """Claims a code (of a unit or a member) so two records cannot share it.

    Its id is derived from the code, so a second claim fails atomically with the record it guards
    (both are saved in one transaction).
    """

    @event("Claimed")
    def __init__(self, id: uuid.UUID, scope: str, code: str, owner_id: uuid.UUID):
        self.scope = scope
        self.code = code
        self.owner_id = owner_id

    @staticmethod
    def id_for(scope: str, code: str) -> uuid.UUID:
        return uuid.uuid5(_INDEX_NS, f"{scope}:{code.strip().casefold()}")


class UnitGuard(Aggregate):
    """Serialises the commands that add to a unit with those that end it.

    Adding (a member admitted or transferred in, a unit created or moved under it) and ending (a merge of
    the unit into another, its dissolution) each save a new version of the unit's guard in their transaction.
    Of two such commands running at once, one loses with 409 and, retried, sees what the other did: a merge
    cannot miss a member admitted meanwhile. Private: never published.
    """

    @event("Created")
    def __init__(self, id: uuid.UUID):
        pass

    @event("Touched")
    def touch(self) -> None:
        pass

    @staticmethod
    def id_for(unit_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(_INDEX_NS, f"guard:{unit_id}")
