"""Aggregates of the members service. No framework code: plain eventsourcing aggregates and rules.

Every command takes `by` (who records it) and `correlation_id` (which request); both are stored on each
event so the audit trail can answer "who recorded this, from where".
"""

from __future__ import annotations

import datetime as dt
import uuid

from eventsourcing.domain import Aggregate, event

from shared.errors import DomainError
from shared.i18n import term, vn_date

UNIT_KINDS = ("city", "district", "ward", "commune", "base_organisation", "cell")
BLOCKS = ("residential", "administrative", "enterprise", "armed_forces")
# miễn công tác và sinh hoạt đảng: tuổi cao, sức khỏe, điều trị dài ngày, công tác nước ngoài, khác
EXEMPTION_REASONS = ("age", "health", "long_treatment", "work_abroad", "other")
# Which kinds of unit may stand directly under which. Any depth; no district level since 2025, so a ward
# may sit directly under the city. A deployment may be rooted at any level above the cell.
ALLOWED_PARENTS: dict[str, tuple[str | None, ...]] = {
    "city": (None,),
    "district": (None, "city"),
    "ward": (None, "city", "district"),
    "commune": (None, "city", "district"),
    "base_organisation": (None, "city", "district", "ward", "commune"),
    "cell": ("ward", "commune", "base_organisation"),
}

_INDEX_NS = uuid.UUID("0b6f2c0e-3d1a-4f5e-8c2b-9e7d6a5b4c3d")


class OrgUnit(Aggregate):
    """A unit of the party organisation tree: thành phố, quận/huyện, đảng bộ phường/xã, chi bộ."""

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

    @property
    def is_cell(self) -> bool:  # chi bộ
        return self.kind == "cell"


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
) -> OrgUnit:
    """Validate and create a unit under `parent` (None for the root)."""
    if kind not in UNIT_KINDS:
        raise DomainError("kind", f"must be one of {', '.join(UNIT_KINDS)}",
                          vi=f"phải là một trong: {', '.join(UNIT_KINDS)}")
    parent_kind = parent.kind if parent is not None else None
    if parent_kind not in ALLOWED_PARENTS[kind]:
        allowed = ALLOWED_PARENTS[kind]
        raise DomainError(
            "parent_id",
            f"a {kind} cannot stand under {parent_kind or 'nothing'}; allowed: "
            + ", ".join(k or "none (root)" for k in allowed),
            rule="tree.parent_kind",
            vi=f"{term(kind)} không thể trực thuộc {term(parent_kind)}; được phép: "
            + ", ".join(term(k) for k in allowed),
        )
    if kind == "cell" and block is None:
        raise DomainError("block", "a cell must belong to a block", rule="cell.block_required",
                          vi="chi bộ phải thuộc một khối")
    if kind != "cell" and block is not None:
        raise DomainError("block", "only cells have a block", rule="unit.block_cells_only",
                          vi="chỉ chi bộ mới có khối")
    if block is not None and block not in BLOCKS:
        raise DomainError("block", f"must be one of {', '.join(BLOCKS)}", vi=f"phải là một trong: {', '.join(BLOCKS)}")
    if parent is not None and effective_from < parent.effective_from:
        raise DomainError("effective_from", f"is before the parent unit existed ({parent.effective_from})",
                          rule="unit.after_parent",
                          vi=f"trước ngày thành lập đơn vị cấp trên ({vn_date(parent.effective_from)})")
    unit_id = uuid.uuid4()
    path = [*parent.org_path, str(unit_id)] if parent is not None else [str(unit_id)]
    return OrgUnit(
        id=unit_id,
        kind=kind,
        name=name.strip(),
        code=code.strip(),
        parent_id=parent.id if parent is not None else None,
        block=block,
        effective_from=effective_from,
        org_path=path,
        recorded_by=by,
        correlation_id=correlation_id,
    )


class Member(Aggregate):
    """A party member (đảng viên)."""

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
        born_on: dt.date | None = None,  # ngày sinh: kept in the register, not published
    ):
        self.code = code
        self.full_name = full_name
        self.cell_id = cell_id
        self.admitted_on = admitted_on
        self.status = status  # probationary (dự bị) | official (chính thức)
        self.official_since = official_since
        self.org_path = org_path
        self.born_on = born_on
        self.exemption: dict[str, object] | None = None  # {"reason", "note", "effective_from"} while exempted

    def exempt(self, *, reason: str, note: str, effective_from: dt.date, today: dt.date, by: str,
               correlation_id: str | None = None) -> None:
        """Exempt the member from party work and activity (miễn công tác và sinh hoạt đảng)."""
        if self.exemption is not None:
            raise DomainError("member_id", "is already exempted", rule="member.already_exempted",
                              vi="đảng viên đã được miễn công tác và sinh hoạt đảng")
        if reason not in EXEMPTION_REASONS:
            raise DomainError("reason", f"must be one of {', '.join(EXEMPTION_REASONS)}",
                              rule="exemption.reason", vi=f"phải là một trong: {', '.join(EXEMPTION_REASONS)}")
        if effective_from > today:
            raise DomainError("effective_from", "cannot be in the future", rule="date.not_future",
                              vi="không thể là ngày trong tương lai")
        if effective_from < self.admitted_on:
            raise DomainError("effective_from", f"is before the admission ({self.admitted_on})",
                              rule="exemption.after_admission",
                              vi=f"trước ngày vào Đảng ({vn_date(self.admitted_on)})")
        self._exempted(reason=reason, note=note.strip(), effective_from=effective_from, cell_id=self.cell_id,
                       org_path=list(self.org_path), recorded_by=by, correlation_id=correlation_id)

    @event("Exempted")
    def _exempted(self, reason: str, note: str, effective_from: dt.date, cell_id: uuid.UUID, org_path: list[str],
                  recorded_by: str, correlation_id: str | None) -> None:
        self.exemption = {"reason": reason, "note": note, "effective_from": effective_from}


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
) -> Member:
    """Admit a new member (probationary), or enter an existing official member into the register."""
    if not cell.is_cell:
        raise DomainError("cell_id", f"members belong to a cell, and this unit is a {cell.kind}",
                          rule="member.cell_kind", vi=f"đảng viên sinh hoạt ở chi bộ; đơn vị này là {term(cell.kind)}")
    if admitted_on > today:
        raise DomainError("admitted_on", "cannot be in the future", rule="date.not_future",
                          vi="không thể là ngày trong tương lai")
    if admitted_on < cell.effective_from:
        raise DomainError("admitted_on", f"is before the cell existed ({cell.effective_from})",
                          rule="member.after_cell", vi=f"trước ngày thành lập chi bộ ({vn_date(cell.effective_from)})")
    if status == "probationary":
        if official_since is not None:
            raise DomainError("official_since", "a probationary member has no official date",
                              vi="đảng viên dự bị chưa có ngày chính thức")
    elif status == "official":
        if official_since is None:
            raise DomainError("official_since", "is required for an official member",
                              vi="bắt buộc với đảng viên chính thức")
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
        raise DomainError("status", "must be probationary or official", vi="phải là dự bị hoặc chính thức")
    if born_on is not None and born_on >= admitted_on:
        raise DomainError("born_on", "must be before the admission date", rule="member.born_before_admission",
                          vi="phải trước ngày vào Đảng")
    return Member(
        code=code.strip(),
        full_name=" ".join(full_name.split()),
        cell_id=cell.id,
        admitted_on=admitted_on,
        status=status,
        official_since=official_since,
        org_path=list(cell.org_path),
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


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")
