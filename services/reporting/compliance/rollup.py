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
from services.reporting.compliance.periods import Period, month_end, quarter_end
from services.reporting.compliance.projection import REGULAR_KINDS, THEMATIC_KINDS
from services.reporting.compliance.tree import Tree, TreeMode
from shared.stores import Sql

BLOCKS = ("residential", "administrative", "enterprise", "armed_forces")


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
            setattr(out, name, [f for f in facts if keep(f)])
        return out

    def partition(self, key: Callable[[Fact], Any]) -> dict[Any, Facts]:
        """The facts grouped by `key` in one pass (None: left out)."""
        out: dict[Any, Facts] = {}
        for name, facts in self.all():
            for f in facts:
                k = key(f)
                if k is not None:
                    group = out.setdefault(k, Facts(self.period, self.today, self.mode))
                    getattr(group, name).append(f)
        return out


# Above this many cells a unit's facts are read whole and filtered by path alone: SQLite allows 32,766 bound
# parameters, PostgreSQL 65,535; a unit that large is most of what a store holds anyway.
MAX_CELLS_IN_SQL = 5000


def scope_cells(tree: Tree, unit_id: str | None) -> list[str] | None:
    """The cells whose rows `collect` reads for a roll-up of `unit_id` (None: every row of the store), sorted:
    every cell that can count under the unit in either tree mode (Tree.cells_ever_under)."""
    cells = tree.cells_ever_under(unit_id)
    if cells is None or len(cells) > MAX_CELLS_IN_SQL:
        return None
    return sorted(cells)


def in_cells(column: str, cells: list[str] | None) -> tuple[str, tuple[str, ...]]:
    """` AND column IN (?, ...)` and its parameters for `cells` (nothing for None: all cells)."""
    if cells is None:
        return "", ()
    if not cells:
        return " AND 1 = 0", ()
    return f" AND {column} IN ({', '.join('?' * len(cells))})", tuple(cells)


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
    for m in meetings:
        held.setdefault((m["cell_id"], m["month"]), []).append(m)
        if m["kind"] in THEMATIC_KINDS:
            thematic.add((m["cell_id"], m["quarter"]))
    months = [(month, month_end(month), dt.date.fromisoformat(month + "-01")) for month in period.months]
    quarters = [(quarter, quarter_end(quarter)) for quarter in period.quarters]
    for cell in cells.values():
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
    supervised = _supervised_meetings(sql, first, last, scope)
    for m in meetings:
        data = dict(m) | {"has_supervisor": m["meeting_id"] in supervised}
        facts.meetings.append(fact(m["cell_id"], month_end(m["month"]), data))
    for r in _resolutions(sql, first, last, today, scope):
        facts.resolutions.append(fact(r["cell_id"], month_end(r["date"][:7]), r))
    for y in sql.execute("SELECT * FROM member_years WHERE flagged = 1 AND year >= ? AND year <= ?" + where,
                         (period.years[0], period.years[-1], *params)).fetchall():
        facts.flagged.append(fact(y["cell_id"], month_end(y["last_date"][:7]), dict(y)))
    end_day = min(period.last, today)
    counts = official_counts(sql, end_day, scope)
    minimum = policy_on(end_day).min_official_members
    for cell in cells.values():
        if cell.exists_on(end_day):
            n = counts.get(cell.unit_id, 0)
            facts.cells_at_end.append(fact(cell.unit_id, end_day, {
                "date": end_day.isoformat(), "official_members": n, "below_minimum": n < minimum,
                "minimum": minimum}))
    # dues per cell and month, counted in SQL (a district's year is over 100,000 member-months)
    for d in sql.execute("SELECT cell_id, month, SUM(paid) AS paid, COUNT(*) AS recorded FROM dues"
                         " WHERE month >= ? AND month <= ?" + where + " GROUP BY cell_id, month",
                         (period.months[0], period.months[-1], *params)).fetchall():
        facts.dues.append(fact(d["cell_id"], month_end(d["month"]),
                               {"month": d["month"], "paid": int(d["paid"]), "recorded": int(d["recorded"])}))
    return facts


def _supervised_meetings(sql: Sql, first: str, last: str, cells: list[str] | None = None) -> set[str]:
    """Meetings whose cell had a committee member assigned to it on the meeting's date."""
    where, params = in_cells("m.cell_id", cells)
    rows = sql.execute(
        "SELECT DISTINCT m.meeting_id FROM meetings m JOIN supervisions s ON s.cell_id = m.cell_id"
        " AND s.valid_from <= m.date AND (s.valid_to IS NULL OR s.valid_to > m.date)"
        " WHERE m.date >= ? AND m.date <= ?" + where, (first, last, *params)).fetchall()
    return {r["meeting_id"] for r in rows}


def _resolutions(sql: Sql, first: str, last: str, today: dt.date,
                 cells: list[str] | None = None) -> list[dict[str, Any]]:
    """Resolutions passed in the period, each with its review deadline and status on `today`."""
    where, params = in_cells("r.cell_id", cells)
    rows = sql.execute(
        "SELECT r.*, (SELECT MIN(n.date) FROM meetings n WHERE n.cell_id = r.cell_id AND n.date > r.date"
        "  AND n.date <= ? AND n.kind IN ('regular', 'combined') AND n.status IN ('held', 'closed')) AS next_regular"
        " FROM resolutions r JOIN meetings m ON m.meeting_id = r.meeting_id"
        " WHERE r.passed = 1 AND r.date >= ? AND r.date <= ? AND m.status IN ('held', 'closed')" + where,
        (today.isoformat(), first, last, *params)).fetchall()
    out = []
    for row in rows:
        r = dict(row)
        passed_on = dt.date.fromisoformat(r["date"])
        following = month_end((passed_on.replace(day=1) + dt.timedelta(days=32)).strftime("%Y-%m"))
        due = r["next_regular"] or following.isoformat()
        reviewed = r["reviewed_on"] if r["reviewed_on"] and r["reviewed_on"] <= today.isoformat() else None
        if reviewed is not None:
            status = "in_time" if reviewed <= due else "late"
        else:
            status = "overdue" if due < today.isoformat() else "not_yet_due"
        out.append(r | {"review_due": due, "review_status": status})
    return out


def official_counts(sql: Sql, day: dt.date, cells: list[str] | None = None) -> dict[str, int]:
    """Official members in each cell's register on `day` (exempted or temporarily away included, as the
    members service counts them for cell health); only `cells`' registers when given."""
    iso = day.isoformat()
    where, params = in_cells("c.cell_id", cells)
    rows = sql.execute(
        "SELECT c.cell_id, COUNT(*) AS n FROM member_cells c JOIN members m ON m.member_id = c.member_id"
        " WHERE c.valid_from <= ? AND (c.valid_to IS NULL OR c.valid_to > ?) AND m.official_since <= ?"
        " AND (m.removed_on IS NULL OR m.removed_on > ?)" + where + " GROUP BY c.cell_id",
        (iso, iso, iso, iso, *params)).fetchall()
    return {r["cell_id"]: int(r["n"]) for r in rows}


# -- the figures of a group of facts ------------------------------------------------------------------------

def ratio(count: int, of: int) -> dict[str, Any]:
    return {"count": count, "of": of, "rate": round(count / of, 4) if of else None}


def figures(facts: Facts) -> dict[str, Any]:
    """The roll-up figures (issue 5 / design.md §5) of whatever facts were kept."""
    by_cell: dict[str, list[Fact]] = {}
    for f in facts.cell_months:
        if f.data["due"]:
            by_cell.setdefault(f.cell_id, []).append(f)
    quarters: dict[str, list[Fact]] = {}
    for f in facts.cell_quarters:
        if f.data["due"]:
            quarters.setdefault(f.cell_id, []).append(f)
    meetings = [f.data for f in facts.meetings]
    regular = [m for m in meetings if m["kind"] in REGULAR_KINDS]
    supervised = [m for m in meetings if m["has_supervisor"]]
    reviews = [f.data for f in facts.resolutions if f.data["review_status"] != "not_yet_due"]
    present = sum(m["present"] for m in meetings)
    base = sum(m["attendance_base"] for m in meetings)
    speakers = sum(m["speakers_present"] for m in meetings)
    paid = sum(f.data["paid"] for f in facts.dues)
    cells = {f.cell_id for f in facts.cell_months} | {f.cell_id for f in facts.cells_at_end}
    return {
        "cells": len(cells),
        "regular_every_month": ratio(sum(all(f.data["regular_held"] for f in fs) for fs in by_cell.values()),
                                     len(by_cell)),
        "regular_cell_months": ratio(sum(f.data["regular_held"] for fs in by_cell.values() for f in fs),
                                     sum(len(fs) for fs in by_cell.values())),
        "thematic_every_quarter": ratio(sum(all(f.data["thematic_held"] for f in fs) for fs in quarters.values()),
                                        len(quarters)),
        "meetings": len(meetings),
        "attendance": {"present": present, "base": base, "rate": round(present / base, 4) if base else None},
        "able_to_decide": ratio(sum(m["able_to_decide"] for m in meetings), len(meetings)),
        "full_procedure": ratio(sum(bool(m["full_procedure"]) for m in regular), len(regular)),
        "minimum_duration": ratio(sum(bool(m["duration_ok"]) for m in regular), len(regular)),
        "participation": {"speakers": speakers, "present": present,
                          "rate": round(speakers / present, 4) if present else None},
        "resolutions_passed": len(facts.resolutions),
        "resolutions_reviewed_in_time": ratio(sum(r["review_status"] == "in_time" for r in reviews), len(reviews)),
        "supervisor_coverage": ratio(sum(m["supervisor_present"] for m in supervised), len(supervised)),
        "flagged_members": len({f.data["member_id"] for f in facts.flagged}),
        "cells_below_minimum": ratio(sum(f.data["below_minimum"] for f in facts.cells_at_end),
                                     len(facts.cells_at_end)),
        "dues": ratio(paid, sum(f.data["recorded"] for f in facts.dues)),
    }


def under(unit_id: str | None) -> Callable[[Fact], bool]:
    return (lambda f: True) if unit_id is None else (lambda f: unit_id in f.path)


def child_of(unit_id: str | None, fact: Fact) -> str | None:
    """The unit right below `unit_id` on the fact's path (the root's child for the whole city)."""
    path = fact.path
    if unit_id is None:
        return path[-1]
    i = path.index(unit_id)
    return path[i - 1] if i > 0 else None


def rollup(facts: Facts, unit_id: str | None, by: str | None = None,
           block: str | None = None) -> dict[str, Any]:
    """The figures of `unit_id` (None: everything), optionally of one block, with groups by block or child."""
    mine = facts.where(lambda f: under(unit_id)(f) and (block is None or f.block == block))
    out: dict[str, Any] = {"figures": figures(mine), "groups": []}
    if by == "block":
        groups = mine.partition(lambda f: f.block)
        order = sorted(groups, key=lambda b: BLOCKS.index(b) if b in BLOCKS else len(BLOCKS))
        out["groups"] = [{"key": b, "figures": figures(groups[b])} for b in order]
    elif by == "children":
        groups = mine.partition(lambda f: child_of(unit_id, f))
        out["groups"] = [{"key": k, "figures": figures(groups[k])} for k in sorted(groups)]
    return out
