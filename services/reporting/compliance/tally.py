"""Roll-ups from counts: the figures of a unit as sums over tallies, one per cell and path.

`rollup.collect` lays out every fact (each meeting, each cell-month...) with its path, which the drill-down
needs: the items behind a figure. A roll-up needs only their counts. Here the database counts each cell's
month (meetings, attendance, dues: GROUP BY cell and month), and the counts are added up per cell and per
path the cell-month counts under (tree.py): a `Tally`. A city's year is then about 20,000 tallies plus one
pass over the counted rows, instead of about a million facts.

Every fact of `rollup.collect` lands in exactly one tally, the one of its cell and path, so a group's figures
(a unit, a block, a child unit) are the same whichever way they are counted: `of_facts` makes tallies from
facts, and `figures` is the one place the figures are worked out, for both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from services.policy import policy_on
from services.reporting.compliance import rows, schema
from services.reporting.compliance.periods import Period, month_end, quarter_end
from services.reporting.compliance.projection import REGULAR_KINDS
from services.reporting.compliance.tree import Tree, TreeMode, Unit
from shared.cooperative import paced
from shared.stores import Dialects, Sql

BLOCKS = ("residential", "administrative", "enterprise", "armed_forces")

# the counts a tally adds up (design.md §5's figures are ratios of these)
MEETING_COUNTS = ("meetings", "regular", "present", "base", "speakers", "able_to_decide", "full_procedure",
                  "duration_ok", "supervised", "supervisor_present")
_COUNTED = MEETING_COUNTS[:-2]  # counted with the meetings; "supervised" and "supervisor_present" apart
COUNTS = (*MEETING_COUNTS, "resolutions", "reviews_due", "reviewed_in_time", "dues_paid", "dues_recorded",
          "due_months", "due_months_held", "due_quarters", "due_quarters_held", "at_end", "below_minimum")


@dataclass(slots=True)
class Tally:
    """What a cell counts under one path: its facts' counts, the members it flagged, whether it counts as a
    cell there (it has a cell-month or is a cell at the period's end)."""

    cell_id: str
    path: tuple[str, ...]
    block: str | None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    flagged: set[str] = field(default_factory=set)
    is_cell: bool = False


class Tallies:
    """Tallies by cell, then path, made as facts or counted rows arrive."""

    def __init__(self, blocks: dict[str, str | None]):
        self.blocks = blocks  # cell -> block (None: a cell reporting does not know)
        self.by_cell: dict[str, list[Tally]] = {}

    def at(self, cell_id: str, path: tuple[str, ...]) -> Tally:
        # a cell has one or two paths in a period, mostly the very tuple the tree keeps: compared by identity
        # first, which costs less than hashing (cell, path) for each of a city's half a million counted rows
        mine = self.by_cell.get(cell_id)
        if mine is None:
            mine = self.by_cell[cell_id] = []
        for tally in mine:
            if tally.path is path or tally.path == path:
                return tally
        tally = Tally(cell_id, path, self.blocks.get(cell_id))
        mine.append(tally)
        return tally

    def __iter__(self) -> Iterator[Tally]:
        return (tally for mine in self.by_cell.values() for tally in mine)


def of_facts(facts: Any) -> list[Tally]:
    """The tallies of `rollup.Facts` (already filtered or not): each fact added to its cell and path."""
    tallies = Tallies({})
    for f in paced(facts.cell_months):
        t = tallies.at(f.cell_id, f.path)
        t.block, t.is_cell = f.block, True
        if f.data["due"]:
            t.counts["due_months"] += 1
            t.counts["due_months_held"] += bool(f.data["regular_held"])
    for f in paced(facts.cell_quarters):
        if f.data["due"]:
            t = tallies.at(f.cell_id, f.path)
            t.block = f.block
            t.counts["due_quarters"] += 1
            t.counts["due_quarters_held"] += bool(f.data["thematic_held"])
    for f in paced(facts.meetings):
        t = tallies.at(f.cell_id, f.path)
        t.block = f.block
        add_meeting(t.counts, meeting_counts(f.data))
    for f in paced(facts.resolutions):
        t = tallies.at(f.cell_id, f.path)
        t.block = f.block
        count_resolution(t.counts, f.data["review_status"])
    for f in paced(facts.flagged):
        t = tallies.at(f.cell_id, f.path)
        t.block = f.block
        t.flagged.add(f.data["member_id"])
    for f in paced(facts.cells_at_end):
        t = tallies.at(f.cell_id, f.path)
        t.block, t.is_cell = f.block, True
        t.counts["at_end"] += 1
        t.counts["below_minimum"] += bool(f.data["below_minimum"])
    for f in paced(facts.dues):
        t = tallies.at(f.cell_id, f.path)
        t.block = f.block
        t.counts["dues_paid"] += f.data["paid"]
        t.counts["dues_recorded"] += f.data["recorded"]
    return list(tallies)


def meeting_counts(m: dict[str, Any]) -> dict[str, int]:
    """One meeting row's contribution to the meeting counts."""
    regular = m["kind"] in REGULAR_KINDS
    return {"meetings": 1, "regular": int(regular), "present": m["present"], "base": m["attendance_base"],
            "speakers": m["speakers_present"], "able_to_decide": m["able_to_decide"],
            "full_procedure": int(regular and bool(m["full_procedure"])),
            "duration_ok": int(regular and bool(m["duration_ok"])), "supervised": int(bool(m["has_supervisor"])),
            "supervisor_present": m["supervisor_present"] if m["has_supervisor"] else 0}


def add_meeting(counts: dict[str, int], add: dict[str, int]) -> None:
    for name in MEETING_COUNTS:
        counts[name] += add[name]


def count_resolution(counts: dict[str, int], review_status: str) -> None:
    counts["resolutions"] += 1
    counts["reviews_due"] += review_status != "not_yet_due"
    counts["reviewed_in_time"] += review_status == "in_time"


# -- the figures of a group of tallies ----------------------------------------------------------------------

def ratio(count: int, of: int) -> dict[str, Any]:
    return {"count": count, "of": of, "rate": round(count / of, 4) if of else None}


def figures(tallies: Iterable[Tally]) -> dict[str, Any]:
    """The roll-up figures (issue 5 / design.md §5) of whatever tallies were kept."""
    total = dict.fromkeys(COUNTS, 0)
    months: dict[str, list[int]] = {}  # cell -> [due months, of which a regular meeting was held]
    quarters: dict[str, list[int]] = {}
    cells: set[str] = set()
    flagged: set[str] = set()
    for t in paced(tallies):
        c = t.counts
        for name in COUNTS:
            total[name] += c[name]
        if c["due_months"]:
            held = months.setdefault(t.cell_id, [0, 0])
            held[0] += c["due_months"]
            held[1] += c["due_months_held"]
        if c["due_quarters"]:
            held = quarters.setdefault(t.cell_id, [0, 0])
            held[0] += c["due_quarters"]
            held[1] += c["due_quarters_held"]
        if t.is_cell:
            cells.add(t.cell_id)
        flagged |= t.flagged
    present, base, speakers = total["present"], total["base"], total["speakers"]
    return {
        "cells": len(cells),
        "regular_every_month": ratio(sum(held == due for due, held in months.values()), len(months)),
        "regular_cell_months": ratio(total["due_months_held"], total["due_months"]),
        "thematic_every_quarter": ratio(sum(held == due for due, held in quarters.values()), len(quarters)),
        "meetings": total["meetings"],
        "attendance": {"present": present, "base": base, "rate": round(present / base, 4) if base else None},
        "able_to_decide": ratio(total["able_to_decide"], total["meetings"]),
        "full_procedure": ratio(total["full_procedure"], total["regular"]),
        "minimum_duration": ratio(total["duration_ok"], total["regular"]),
        "participation": {"speakers": speakers, "present": present,
                          "rate": round(speakers / present, 4) if present else None},
        "resolutions_passed": total["resolutions"],
        "resolutions_reviewed_in_time": ratio(total["reviewed_in_time"], total["reviews_due"]),
        "supervisor_coverage": ratio(total["supervisor_present"], total["supervised"]),
        "flagged_members": len(flagged),
        "cells_below_minimum": ratio(total["below_minimum"], total["at_end"]),
        "dues": ratio(total["dues_paid"], total["dues_recorded"]),
    }


# -- tallies counted by the database ------------------------------------------------------------------------

@dataclass(slots=True)
class _Layout:
    """One cell over a period's months: the path each month counts under, whether the cell existed that month
    (a cell-month even without meetings) and whether the month was due; the same per quarter."""

    month_paths: list[tuple[str, ...]]
    existed: list[bool]
    due: list[bool]
    quarter_paths: list[tuple[str, ...]]
    quarter_due: list[bool]
    steady: bool = False  # the cell counts under one path every month of the period (most cells: moves are rare)
    # the months the cell existed, by path: (path, how many of them were due); the due quarters, by path:
    # (path, their indexes). What a roll-up adds per cell, worked out once per layout, not once per month.
    month_groups: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    quarter_groups: list[tuple[tuple[str, ...], list[int]]] = field(default_factory=list)
    due_bits: int = 0  # the due months as bits, as a period's row has the months held (_counts)

    def __post_init__(self) -> None:
        self.steady = all(p == self.month_paths[0] for p in self.month_paths)
        self.due_bits = sum(1 << i for i, due in enumerate(self.due) if due)
        months: dict[tuple[str, ...], int] = {}
        for path, existed, due in zip(self.month_paths, self.existed, self.due, strict=True):
            if existed:  # (a due month is one the cell existed in)
                months[path] = months.get(path, 0) + due
        self.month_groups = list(months.items())
        quarters: dict[tuple[str, ...], list[int]] = {}
        for q, (path, due) in enumerate(zip(self.quarter_paths, self.quarter_due, strict=True)):
            if due:
                quarters.setdefault(path, []).append(q)
        self.quarter_groups = list(quarters.items())


def _layout(tree: Tree, cell: Unit, months: list[tuple[str, dt.date, dt.date]],
            quarters: list[tuple[str, dt.date]], mode: TreeMode, today: dt.date) -> _Layout:
    created, ended = cell.created_on, cell.ended_on
    return _Layout(
        [tree.path(cell.unit_id, end, mode, today) for _, end, _ in months],
        [created <= end and (ended is None or ended > start) for _, end, start in months],
        [cell.exists_on(end) and end < today for _, end, _ in months],
        [tree.path(cell.unit_id, end, mode, today) for _, end in quarters],
        [cell.exists_on(end) and end < today for _, end in quarters])


# a month's and a quarter's bit in a period's row (bit 0: its first month, its first quarter); the first
# month's and quarter's ordinals are parameters. OR-ed on PostgreSQL, summed DISTINCT on SQLite (the same).
_MONTH_BIT = ("(CAST(1 AS BIGINT) << (CAST(SUBSTR(m.month, 1, 4) AS INTEGER) * 12"
              " + CAST(SUBSTR(m.month, 6, 2) AS INTEGER) - ?))")
_QUARTER_BIT = ("(CAST(1 AS BIGINT) << (CAST(SUBSTR(m.quarter, 1, 4) AS INTEGER) * 4"
                " + CAST(SUBSTR(m.quarter, 7, 1) AS INTEGER) - ?))")
MAX_BITS = 62  # months in a period's row: a period of parse_period has at most 12


def _bits(expr: str, db: int) -> str:
    return f"BIT_OR({expr})" if db else f"SUM(DISTINCT {expr})"


def _ordinals(months: list[str], quarters: list[str]) -> tuple[int, int]:
    """The first month's and the first quarter's ordinal (year * 12 + month, year * 4 + quarter)."""
    return int(months[0][:4]) * 12 + int(months[0][5:7]), int(quarters[0][:4]) * 4 + int(quarters[0][6])


def kept_year(period: Period) -> str | None:
    """The calendar year `period` is, when it is one (its meetings can be read from `meeting_years`)."""
    return str(period.first.year) if period.first == dt.date(period.first.year, 1, 1) and \
        period.last == dt.date(period.first.year, 12, 31) else None


def _counts(sql: Sql, by_month: bool, scope: list[str] | None, only: list[str] | None,
            excluded: list[str] | None, first: str, last: str, today: dt.date, months: list[str],
            quarters: list[str], year: str | None = None) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """The period's meetings, supervised meetings and dues counted per cell and month (`by_month`), or per cell
    over the period with bits of the months that had a meeting (`h`) and a regular one (`r`), and of the
    quarters that had a thematic one (`t`). Of the cells in `scope` (None: all), and of `only` or all but
    `excluded` when given. `year`: the period is that calendar year, whose meetings per cell the projection
    keeps (`meeting_years`); read from there unless one of its rows holds a meeting after `today`."""
    assert len(months) <= MAX_BITS, "a period's row has a bit per month"
    regular, thematic = schema.REGULAR_KINDS_SQL, schema.THEMATIC_KINDS_SQL
    where, params = rows.in_cells("m.cell_id", scope)
    if only is not None:
        more, extra = rows.in_cells("m.cell_id", only)
        where, params = where + more, params + extra
    if excluded:
        where, params = where + f" AND m.cell_id NOT IN ({', '.join('?' * len(excluded))})", params + tuple(excluded)
    counted = None
    if year is not None and not by_month:
        counted = sql.execute(
            "SELECT m.cell_id, m.meetings, m.regular, m.thematic, m.present, m.base, m.speakers, m.able_to_decide,"
            " m.full_procedure, m.duration_ok, m.held_months AS h, m.regular_months AS r,"
            " m.thematic_quarters AS t, m.first_date, m.last_date, m.supervisor_present FROM meeting_years m"
            " WHERE m.year = ?" + where, (year, *params)).fetchall()
        if any(r["last_date"] > today.isoformat() for r in counted):  # a meeting after the report date
            counted = None
    kept = counted is not None
    held = (" FROM meetings m WHERE m.status IN ('held', 'closed') AND m.date >= ? AND m.date <= ?"
            " AND m.date <= ?" + where)
    dated = (first, last, today.isoformat(), *params)
    if counted is None:
        keys, bits, bit_params = "m.cell_id", "", ()
        if by_month:
            keys = "m.cell_id, m.month, m.quarter"
        else:
            month0, quarter0 = _ordinals(months, quarters)
            regular_bit = f"CASE WHEN m.kind IN ({regular}) THEN {_MONTH_BIT} ELSE 0 END"
            thematic_bit = f"CASE WHEN m.kind IN ({thematic}) THEN {_QUARTER_BIT} ELSE 0 END"
            bits = Dialects(*(f", {_bits(_MONTH_BIT, db)} AS h, {_bits(regular_bit, db)} AS r,"
                              f" {_bits(thematic_bit, db)} AS t" for db in (0, 1)))
            bit_params = (month0, month0, quarter0)
        counted = sql.execute(Dialects(*(
            f"SELECT {keys}, {schema.MEETING_SUMS}{bits[db] if bits else ''}{held} GROUP BY {keys}"
            for db in (0, 1))), (*bit_params, *dated)).fetchall()
    # supervised: a committee member was assigned to the meeting's cell on its date (a semi-join, once each).
    # From a kept year: a cell whose assignments cover the whole period had all its meetings supervised, one
    # with none had none; only the others' meetings are read (_supervised).
    keys = "m.cell_id, m.month" if by_month else "m.cell_id"
    supervised: list[Any] = []
    semi_where, semi_params, read = "", (), True
    if kept:
        whole, partly = _supervised(sql, counted, where, params, first, min(last, today.isoformat()))
        if partly is not None:
            supervised, read = whole, bool(partly)
            semi_where, semi_params = rows.in_cells("m.cell_id", partly)
    if read:
        supervised += sql.execute(
            f"SELECT {keys}, COUNT(*) AS supervised, SUM(m.supervisor_present) AS supervisor_present" + held +
            semi_where + " AND EXISTS (SELECT 1 FROM supervisions v WHERE v.cell_id = m.cell_id"
            f" AND v.valid_from <= m.date AND (v.valid_to IS NULL OR v.valid_to > m.date)) GROUP BY {keys}",
            (*dated, *semi_params)).fetchall()
    # from the counts the database keeps per cell and month (schema.KEPT_COUNTS), not a row per member-month
    dues = sql.execute(
        f"SELECT {keys}, SUM(m.paid) AS paid, SUM(m.recorded) AS recorded FROM dues_months m WHERE m.month >= ?"
        f" AND m.month <= ?" + where + f" GROUP BY {keys}", (months[0], months[-1], *params)).fetchall()
    # the resolutions passed in the period at held meetings, and their reviews as of `today`, counted from the
    # deadlines the database keeps (schema.KEPT_COUNTS; rows.review_status is the same rule, row by row)
    keys = "m.cell_id, SUBSTR(m.date, 1, 7)" if by_month else "m.cell_id"
    reviews = sql.execute(
        f"SELECT {keys}{' AS month' if by_month else ''}, COUNT(*) AS resolutions,"
        " SUM(CASE WHEN m.reviewed IS NOT NULL OR m.due < ? THEN 1 ELSE 0 END) AS reviews_due,"
        " SUM(CASE WHEN m.reviewed IS NOT NULL AND m.reviewed <= m.due THEN 1 ELSE 0 END) AS reviewed_in_time"
        " FROM (SELECT m.cell_id, m.date, CASE WHEN m.reviewed_on <> '' AND m.reviewed_on <= ? THEN m.reviewed_on"
        " END AS reviewed, COALESCE(CASE WHEN m.next_regular <= ? THEN m.next_regular END, m.default_due) AS due"
        " FROM resolution_reviews m WHERE m.counted = 1 AND m.date >= ? AND m.date <= ?" + where + ") m"
        f" GROUP BY {keys}",
        (today.isoformat(), today.isoformat(), today.isoformat(), first, last, *params)).fetchall()
    return counted, supervised, dues, reviews


def _supervised(sql: Sql, counted: list[Any], where: str, params: tuple[str, ...], first: str,
                end: str) -> tuple[list[dict[str, Any]], list[str] | None]:
    """A kept year's supervised counts, for the cells whose assignments cover every day from their year's first
    meeting to its last (all their meetings supervised); and the cells assigned for part of that, whose
    meetings the caller reads (None: too many to name, read them all and drop these counts). Assignments are
    read for the period from `first` to `end`, the report date or the period's end."""
    spells: dict[str, list[tuple[str, str | None]]] = {}
    # (`m` is the supervisions here, so that the caller's conditions on m.cell_id apply)
    for v in paced(sql.execute("SELECT m.cell_id, m.valid_from, m.valid_to FROM supervisions m"
                               " WHERE m.valid_from <= ? AND (m.valid_to IS NULL OR m.valid_to > ?)" + where,
                               (end, first, *params)).fetchall()):
        spells.setdefault(v["cell_id"], []).append((v["valid_from"], v["valid_to"]))
    whole, partly = [], []
    for r in paced(counted):
        assigned = spells.get(r["cell_id"])
        if not assigned:
            continue
        if _covers(assigned, r["first_date"], r["last_date"]):
            whole.append({"cell_id": r["cell_id"], "supervised": r["meetings"],
                          "supervisor_present": r["supervisor_present"]})
        else:
            partly.append(r["cell_id"])
    return whole, partly if len(partly) <= rows.MAX_CELLS_IN_SQL else None


def _covers(spells: list[tuple[str, str | None]], first: str, end: str) -> bool:
    """Whether spells [valid_from, valid_to) (ISO dates, None: open) cover every day from `first` to `end`."""
    reached = first  # the first day not covered yet
    for since, until in sorted(spells, key=lambda s: s[0]):
        if since > reached:
            return False
        if until is None:
            return True
        reached = max(reached, until)
    return reached > end


def collect(sql: Sql, tree: Tree, period: Period, mode: TreeMode, today: dt.date,
            unit_id: str | None = None) -> list[Tally]:
    """The tallies of `period` as of `today` that can count under `unit_id` (None: the whole city): the same
    facts as `rollup.collect`, counted per cell and month by the database. Callers keep the tallies whose path
    holds the unit, as they keep facts."""
    scope = rows.scope_cells(tree, unit_id)
    kept = None if scope is None else set(scope)
    cells = {u.unit_id: u for u in tree.cells() if kept is None or u.unit_id in kept}
    tallies = Tallies({cell_id: u.block for cell_id, u in cells.items()})
    months = [(month, month_end(month), dt.date.fromisoformat(month + "-01")) for month in period.months]
    quarters = [(quarter, quarter_end(quarter)) for quarter in period.quarters]
    month_index = {month: i for i, (month, _, _) in enumerate(months)}
    quarter_names = [quarter for quarter, _ in quarters]
    layouts = tree.memo(("tally", tuple(period.months), mode, today), dict)

    def layout(cell_id: str) -> _Layout | None:
        found = layouts.get(cell_id)
        if found is None and cell_id in cells:
            found = layouts[cell_id] = _layout(tree, cells[cell_id], months, quarters, mode, today)
        return found

    def path(cell_id: str, month: str) -> tuple[str, ...]:
        i = month_index.get(month)
        lay = layout(cell_id) if i is not None else None
        return lay.month_paths[i] if lay is not None and i is not None else \
            tree.path(cell_id, month_end(month), mode, today)

    first, last = period.first.isoformat(), period.last.isoformat()
    # Cells whose path is the same all period are counted over the whole period (one row each, with a flag per
    # month and quarter); the others, which moved, per month. A city's year is then ~20,000 rows, not ~240,000.
    moving = [cell_id for cell_id in paced(cells) if not layout(cell_id).steady]  # type: ignore[union-attr]
    if len(moving) > rows.MAX_CELLS_IN_SQL:
        moving = None  # too many to name: everything per month
    held_thematic: set[tuple[str, str]] = set()
    for by_month, only, excluded in ((True, moving, None), (False, None, moving)) if moving is not None else \
            ((True, None, None),):
        if by_month and only is not None and not only:
            continue
        counted, supervised, dues, reviews = _counts(sql, by_month, scope, only, excluded, first, last, today,
                                                     [m for m, _, _ in months], quarter_names, kept_year(period))
        for r in paced(counted):
            cell_id = r["cell_id"]
            lay = layout(cell_id)
            t = tallies.at(cell_id, path(cell_id, r["month"] if by_month else months[0][0]))
            c = t.counts
            for name in _COUNTED:
                c[name] += int(r[name])
            if by_month:
                i = month_index.get(r["month"])
                if lay is not None and i is not None:
                    t.is_cell = True  # a month with meetings is a cell-month, existing or not
                    c["due_months_held"] += bool(lay.due[i] and int(r["regular"]))
                if int(r["thematic"]):
                    held_thematic.add((cell_id, r["quarter"]))
                continue
            if lay is not None:
                t.is_cell = t.is_cell or bool(r["h"])  # a month with meetings is a cell-month
                c["due_months_held"] += (int(r["r"]) & lay.due_bits).bit_count()
            thematic_bits = int(r["t"])
            for q, quarter in enumerate(quarter_names):
                if thematic_bits >> q & 1:
                    held_thematic.add((cell_id, quarter))
        for r in paced(supervised):
            c = tallies.at(r["cell_id"], path(r["cell_id"], r["month"] if by_month else months[0][0])).counts
            c["supervised"] += int(r["supervised"])
            c["supervisor_present"] += int(r["supervisor_present"])
        for d in paced(dues):
            c = tallies.at(d["cell_id"], path(d["cell_id"], d["month"] if by_month else months[0][0])).counts
            c["dues_paid"] += int(d["paid"])
            c["dues_recorded"] += int(d["recorded"])
        for r in paced(reviews):
            c = tallies.at(r["cell_id"], path(r["cell_id"], r["month"] if by_month else months[0][0])).counts
            for name in ("resolutions", "reviews_due", "reviewed_in_time"):
                c[name] += int(r[name])
    for cell_id in paced(cells):
        lay = layout(cell_id)
        assert lay is not None
        for mpath, due_months in lay.month_groups:
            t = tallies.at(cell_id, mpath)
            t.is_cell = True
            t.counts["due_months"] += due_months
        for qpath, due_quarters in lay.quarter_groups:
            t = tallies.at(cell_id, qpath)
            t.counts["due_quarters"] += len(due_quarters)
            t.counts["due_quarters_held"] += sum((cell_id, quarter_names[q]) in held_thematic for q in due_quarters)
    where, params = rows.in_cells("cell_id", scope)
    for y in sql.execute("SELECT cell_id, last_date, member_id FROM member_years WHERE flagged = 1 AND year >= ?"
                         " AND year <= ?" + where, (period.years[0], period.years[-1], *params)).fetchall():
        tallies.at(y["cell_id"], path(y["cell_id"], y["last_date"][:7])).flagged.add(y["member_id"])
    end_day = min(period.last, today)
    counts = rows.official_counts(sql, end_day, scope)
    minimum = policy_on(end_day).min_official_members
    for cell in paced(cells.values()):
        if cell.exists_on(end_day):
            t = tallies.at(cell.unit_id, tree.path(cell.unit_id, end_day, mode, today))
            t.is_cell = True
            t.counts["at_end"] += 1
            t.counts["below_minimum"] += counts.get(cell.unit_id, 0) < minimum
    return list(tallies)


# -- a unit's roll-up ---------------------------------------------------------------------------------------

def under(unit_id: str | None) -> Callable[[Tally], bool]:
    return (lambda t: True) if unit_id is None else (lambda t: unit_id in t.path)


def child_of(unit_id: str | None, path: tuple[str, ...]) -> str | None:
    """The unit right below `unit_id` on a path (the root's child for the whole city)."""
    if unit_id is None:
        return path[-1]
    i = path.index(unit_id)
    return path[i - 1] if i > 0 else None


def rollup(tallies: Iterable[Tally], unit_id: str | None, by: str | None = None,
           block: str | None = None) -> dict[str, Any]:
    """The figures of `unit_id` (None: everything), optionally of one block, with groups by block or child."""
    inside = under(unit_id)
    mine = [t for t in paced(tallies) if inside(t) and (block is None or t.block == block)]
    out: dict[str, Any] = {"figures": figures(mine), "groups": []}
    groups: dict[Any, list[Tally]] = {}
    if by == "block":
        for t in mine:
            if t.block is not None:
                groups.setdefault(t.block, []).append(t)
        order = sorted(groups, key=lambda b: BLOCKS.index(b) if b in BLOCKS else len(BLOCKS))
        out["groups"] = [{"key": b, "figures": figures(groups[b])} for b in order]
    elif by == "children":
        for t in mine:
            key = child_of(unit_id, t.path)
            if key is not None:
                groups.setdefault(key, []).append(t)
        out["groups"] = [{"key": k, "figures": figures(groups[k])} for k in sorted(groups)]
    return out
