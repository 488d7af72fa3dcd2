"""Roll-ups: the compliance figures of any unit of the tree (or the whole city), by block or by child unit.

First every fact of the period is laid out with the path of units it counts under (tree.py) and its cell's
block: cell-months, cell-quarters, meetings, resolutions, flagged members, cells at the period's end, dues.
Then any group (a unit, a block, a child unit) is a filter over those facts, so the same facts give the
totals, the groups and the drill-down, and a group's figures always add up to its parent's.

When is a cell due?
* a month: the cell existed on the month's last day and that day is before the report date (a month still
  running is shown, but not yet due); a cell merged or dissolved during a month is not due that month;
* a quarter (thematic meeting): the same, on the quarter's last day.
A resolution is due for review by the cell's next regular meeting, or by the end of the following month if
the cell has held none since (design.md §2: "by default the next regular meeting").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from services.policy import policy_on
from services.reporting.compliance import tally
from services.reporting.compliance.periods import Period, month_end, quarter_end
from services.reporting.compliance.projection import REGULAR_KINDS, THEMATIC_KINDS
from services.reporting.compliance.rows import (
    in_cells,
    official_counts,
    resolutions,
    scope_cells,
    supervised_meetings,
)
from services.reporting.compliance.tree import Tree, TreeMode
from shared.cooperative import paced
from shared.stores import Sql


@dataclass
class Fact:
    """One thing that counts (a cell-month, a meeting...), where it counts, and what it says."""

    cell_id: str
    path: tuple[str, ...]
    block: str | None
    data: dict[str, Any]


@dataclass
class Facts:
    period: Period
    today: dt.date
    mode: TreeMode
    cell_months: list[Fact] = field(default_factory=list)
    cell_quarters: list[Fact] = field(default_factory=list)
    meetings: list[Fact] = field(default_factory=list)
    resolutions: list[Fact] = field(default_factory=list)
    flagged: list[Fact] = field(default_factory=list)
    cells_at_end: list[Fact] = field(default_factory=list)
    dues: list[Fact] = field(default_factory=list)

    def all(self) -> Iterable[tuple[str, list[Fact]]]:
        return [("cell_months", self.cell_months), ("cell_quarters", self.cell_quarters),
                ("meetings", self.meetings), ("resolutions", self.resolutions), ("flagged", self.flagged),
                ("cells_at_end", self.cells_at_end), ("dues", self.dues)]

    def where(self, keep: Callable[[Fact], bool]) -> Facts:
        out = Facts(self.period, self.today, self.mode)
        for name, facts in self.all():
            setattr(out, name, [f for f in paced(facts) if keep(f)])
        return out


def collect(sql: Sql, tree: Tree, period: Period, mode: TreeMode, today: dt.date,
            unit_id: str | None = None) -> Facts:
    """Every fact of `period` as of `today` (the report date: today, or an as-of date) that can count under
    `unit_id` (None: the whole city). Only the rows of the cells that were ever under the unit are read, so a
    ward's facts cost what the ward holds, not what the city holds; facts still carry their full path, and
    callers keep those `under(unit_id)` (a cell that moved counts under each unit only for its months there)."""
    facts = Facts(period, today, mode)
    scope = scope_cells(tree, unit_id)
    kept = None if scope is None else set(scope)
    cells = {u.unit_id: u for u in tree.cells() if kept is None or u.unit_id in kept}

    def fact(cell_id: str, day: dt.date, data: dict[str, Any]) -> Fact:
        unit = cells.get(cell_id)
        return Fact(cell_id, tree.path(cell_id, day, mode, today), unit.block if unit else None, data)

    first, last = period.first.isoformat(), period.last.isoformat()
    where, params = in_cells("cell_id", scope)
    # in date order, so a cell-month lists its meetings the same way whichever rows (and plan) were read
    meetings = sql.execute(
        "SELECT * FROM meetings WHERE status IN ('held', 'closed') AND date >= ? AND date <= ? AND date <= ?"
        + where + " ORDER BY date, meeting_id", (first, last, today.isoformat(), *params)).fetchall()
    held: dict[tuple[str, str], list[Any]] = {}
    thematic: set[tuple[str, str]] = set()
    for m in paced(meetings):
        held.setdefault((m["cell_id"], m["month"]), []).append(m)
        if m["kind"] in THEMATIC_KINDS:
            thematic.add((m["cell_id"], m["quarter"]))
    months = [(month, month_end(month), dt.date.fromisoformat(month + "-01")) for month in period.months]
    quarters = [(quarter, quarter_end(quarter)) for quarter in period.quarters]
    for cell in paced(cells.values(), every=50):  # (16 facts or so per cell)
        for month, end, start in months:
            existed = cell.created_on <= end and (cell.ended_on is None or cell.ended_on > start)
            if not existed and (cell.unit_id, month) not in held:
                continue
            rows = held.get((cell.unit_id, month), [])
            facts.cell_months.append(fact(cell.unit_id, end, {
                "month": month, "due": cell.exists_on(end) and end < today,
                "meetings": len(rows), "regular_held": any(r["kind"] in REGULAR_KINDS for r in rows),
                "meeting_ids": [r["meeting_id"] for r in rows],
            }))
        for quarter, end in quarters:
            if not cell.exists_on(end) and (cell.unit_id, quarter) not in thematic:
                continue
            facts.cell_quarters.append(fact(cell.unit_id, end, {
                "quarter": quarter, "due": cell.exists_on(end) and end < today,
                "thematic_held": (cell.unit_id, quarter) in thematic,
            }))
    supervised = supervised_meetings(sql, first, last, scope)
    for m in paced(meetings):
        data = dict(m) | {"has_supervisor": m["meeting_id"] in supervised}
        facts.meetings.append(fact(m["cell_id"], month_end(m["month"]), data))
    for r in paced(resolutions(sql, first, last, today, scope)):
        facts.resolutions.append(fact(r["cell_id"], month_end(r["date"][:7]), r))
    for y in paced(sql.execute("SELECT * FROM member_years WHERE flagged = 1 AND year >= ? AND year <= ?" + where,
                               (period.years[0], period.years[-1], *params)).fetchall()):
        facts.flagged.append(fact(y["cell_id"], month_end(y["last_date"][:7]), dict(y)))
    end_day = min(period.last, today)
    counts = official_counts(sql, end_day, scope)
    minimum = policy_on(end_day).min_official_members
    for cell in paced(cells.values()):
        if cell.exists_on(end_day):
            n = counts.get(cell.unit_id, 0)
            facts.cells_at_end.append(fact(cell.unit_id, end_day, {
                "date": end_day.isoformat(), "official_members": n, "below_minimum": n < minimum,
                "minimum": minimum}))
    # dues per cell and month, counted in SQL (a district's year is over 100,000 member-months)
    for d in paced(sql.execute("SELECT cell_id, month, SUM(paid) AS paid, COUNT(*) AS recorded FROM dues"
                               " WHERE month >= ? AND month <= ?" + where + " GROUP BY cell_id, month",
                               (period.months[0], period.months[-1], *params)).fetchall()):
        facts.dues.append(fact(d["cell_id"], month_end(d["month"]),
                               {"month": d["month"], "paid": int(d["paid"]), "recorded": int(d["recorded"])}))
    return facts


# -- the figures of a group of facts: through their tallies (tally.py), the one place figures are worked out --

def figures(facts: Facts) -> dict[str, Any]:
    """The roll-up figures (issue 5 / design.md §5) of whatever facts were kept."""
    return tally.figures(tally.of_facts(facts))


def under(unit_id: str | None) -> Callable[[Fact], bool]:
    return (lambda f: True) if unit_id is None else (lambda f: unit_id in f.path)
