"""The organisation tree's rules (design.md §2): which kinds of unit may stand under which, which may be
merged into one another, a unit's ancestors on a date, and the dated cycle check of a move. Pure functions
over OrgUnit aggregates (services.members.domain), which call them. No framework code.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.errors import DomainError
from shared.i18n import term, vn_date

if TYPE_CHECKING:
    from services.members.domain import OrgUnit

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
# Units of one group may be merged into one another (2025: wards and communes merged into new wards).
MERGE_GROUPS = {"cell": "cell", "ward": "base", "commune": "base", "base_organisation": "base",
                "district": "district"}


def ancestors_on(unit: OrgUnit, day: dt.date, get_unit: Callable[[uuid.UUID], OrgUnit | None]) -> list[uuid.UUID]:
    """`unit` and its ancestors on `day`, nearest first."""
    chain = [unit.id]
    current: OrgUnit | None = unit
    while current is not None:
        parent_id = current.parent_on(day)
        if parent_id is None or parent_id in chain:
            break
        chain.append(parent_id)
        current = get_unit(parent_id)
    return chain


def ever_above(unit: OrgUnit, get_unit: Callable[[uuid.UUID], OrgUnit | None]) -> list[OrgUnit]:
    """`unit` and every unit that was its ancestor at some time."""
    found: dict[uuid.UUID, OrgUnit] = {}
    todo = [unit]
    while todo:
        u = todo.pop()
        if u.id in found:
            continue
        found[u.id] = u
        todo.extend(p for _, pid in u.parents if pid is not None and (p := get_unit(pid)) is not None)
    return list(found.values())


def check_parent_kind(kind: str, parent_kind: str | None, field: str = "parent_id") -> None:
    allowed = ALLOWED_PARENTS[kind]
    if parent_kind not in allowed:
        raise DomainError(
            field,
            f"a {kind} cannot stand under {parent_kind or 'nothing'}; allowed: "
            + ", ".join(k or "none (root)" for k in allowed),
            rule="tree.parent_kind",
            vi=f"{term(kind)} không thể trực thuộc {term(parent_kind)}; được phép: "
            + ", ".join(term(k) for k in allowed),
        )


def check_no_cycle(unit_id: uuid.UUID, new_parent: OrgUnit, effective_from: dt.date,
                   get_unit: Callable[[uuid.UUID], OrgUnit | None], field: str) -> None:
    """Refuse a move of `unit_id` under `new_parent` that would make it its own ancestor on any day from
    `effective_from` on. The ancestors of a unit only change on the days some unit's parent changes, so those
    days (from the move on, among every unit that was ever above the new parent) are the only ones to check.
    """
    days = {effective_from}
    for unit in ever_above(new_parent, get_unit):
        days.update(d for d in unit.parent_change_dates() if d > effective_from)
    for day in sorted(days):
        if unit_id in ancestors_on(new_parent, day, get_unit):
            raise DomainError(field, f"the new parent stands under this unit (on {day}): the tree would have "
                              "a cycle", rule="tree.cycle",
                              vi=f"đơn vị cấp trên mới trực thuộc chính đơn vị này (ngày {vn_date(day)}): "
                                 "cây tổ chức sẽ bị vòng lặp")
