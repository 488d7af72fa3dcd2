"""Per cell and month: the month's meetings and their figures (design.md §5), one row per cell-month.

Attendance base (design.md §2): the summoned members minus those temporarily active elsewhere, minus
exempted members who were absent (an exempted member who attends counts in the base and as present).
Attendance rate = present / base, over the cell's meetings of the month.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.reporting.compliance.periods import Period
from services.reporting.compliance.rollup import REGULAR_KINDS, THEMATIC_KINDS, Facts, collect, under
from services.reporting.compliance.tree import Tree, TreeMode
from shared.errors import DomainError
from shared.stores import Sql


def cell_months(sql: Sql, period: Period, today: dt.date, unit: str | None = None, mode: TreeMode = "period",
                block: str | None = None, tree: Tree | None = None, facts: Facts | None = None) -> list[dict[str, Any]]:
    """Every cell-month of `period` under `unit` (None: all), ordered by cell code then month."""
    tree = tree or Tree.load(sql)
    facts = facts or collect(sql, tree, period, mode, today, unit)
    keep = under(unit)
    meetings = {f.data["meeting_id"]: f.data for f in facts.meetings}
    dues = {(f.cell_id, f.data["month"]): f.data for f in facts.dues}
    reviews: dict[tuple[str, str], list[str]] = {}
    for f in facts.resolutions:
        reviews.setdefault((f.cell_id, f.data["date"][:7]), []).append(f.data["review_status"])
    rows = []
    for f in facts.cell_months:
        if not keep(f) or (block is not None and f.block != block):
            continue
        unit_row = tree.units[f.cell_id]
        ms = [meetings[i] for i in f.data["meeting_ids"]]
        regular = [m for m in ms if m["kind"] in REGULAR_KINDS]
        present = sum(m["present"] for m in ms)
        base = sum(m["attendance_base"] for m in ms)
        key = (f.cell_id, f.data["month"])
        paid = dues.get(key, {"paid": 0, "recorded": 0})
        rows.append({
            "cell_id": f.cell_id, "cell_code": unit_row.code,
            "cell_name": tree.name(f.cell_id, min(dt.date.fromisoformat(f.data["month"] + "-01"),
                                                  unit_row.last_day(today))),
            "block": f.block, "month": f.data["month"], "due": f.data["due"],
            "meetings": len(ms), "regular_held": f.data["regular_held"],
            "thematic_held": any(m["kind"] in THEMATIC_KINDS for m in ms),
            "minimum_duration": all(m["duration_ok"] for m in regular) if regular else None,
            "present": present, "attendance_base": base,
            "attendance_rate": round(present / base, 4) if base else None,
            "able_to_decide": sum(m["able_to_decide"] for m in ms),
            "full_procedure": sum(bool(m["full_procedure"]) for m in regular),
            "speakers_present": sum(m["speakers_present"] for m in ms),
            "participation": round(sum(m["speakers_present"] for m in ms) / present, 4) if present else None,
            "resolutions_passed": sum(m["resolutions_passed"] for m in ms),
            # of the month's resolutions whose review is due (by the next regular meeting): reviewed in time
            "resolutions_due_for_review": sum(s != "not_yet_due" for s in reviews.get(key, [])),
            "resolutions_reviewed_in_time": sum(s == "in_time" for s in reviews.get(key, [])),
            "supervisor_present": sum(m["supervisor_present"] for m in ms),
            "dues_paid": paid["paid"], "dues_recorded": paid["recorded"],
            "meeting_ids": f.data["meeting_ids"],
        })
    rows.sort(key=lambda r: (r["cell_code"], r["cell_id"], r["month"]))
    return rows


def parse_month(field: str, raw: str | None, default: str) -> str:
    value = raw or default
    try:
        day = dt.date.fromisoformat(value + "-01")
    except ValueError:
        raise DomainError(field, f"must be a month as YYYY-MM, not {value!r}", rule="period.format",
                          vi=f"phải là tháng dạng YYYY-MM, không phải {value!r}") from None
    return day.strftime("%Y-%m")
