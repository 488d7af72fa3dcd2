"""The rows a roll-up reads: which cells a unit's query reads, and the per-row rules shared by the facts
(rollup.py, for the drill-down) and the tallies (tally.py, for the figures)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.reporting.compliance.periods import month_end
from services.reporting.compliance.tree import Tree
from shared.stores import Sql

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


def supervised_meetings(sql: Sql, first: str, last: str, cells: list[str] | None = None) -> set[str]:
    """Meetings whose cell had a committee member assigned to it on the meeting's date."""
    where, params = in_cells("m.cell_id", cells)
    rows = sql.execute(
        "SELECT DISTINCT m.meeting_id FROM meetings m JOIN supervisions s ON s.cell_id = m.cell_id"
        " AND s.valid_from <= m.date AND (s.valid_to IS NULL OR s.valid_to > m.date)"
        " WHERE m.date >= ? AND m.date <= ?" + where, (first, last, *params)).fetchall()
    return {r["meeting_id"] for r in rows}


def _passed(sql: Sql, columns: str, first: str, last: str, today: dt.date, cells: list[str] | None) -> list[Any]:
    """The resolutions passed in the period at held meetings: `columns` of each, and its cell's next regular
    meeting after it (up to `today`)."""
    where, params = in_cells("r.cell_id", cells)
    return sql.execute(
        f"SELECT {columns}, (SELECT MIN(n.date) FROM meetings n WHERE n.cell_id = r.cell_id AND n.date > r.date"
        "  AND n.date <= ? AND n.kind IN ('regular', 'combined') AND n.status IN ('held', 'closed')) AS next_regular"
        " FROM resolutions r JOIN meetings m ON m.meeting_id = r.meeting_id"
        " WHERE r.passed = 1 AND r.date >= ? AND r.date <= ? AND m.status IN ('held', 'closed')" + where,
        (today.isoformat(), first, last, *params)).fetchall()


def resolutions(sql: Sql, first: str, last: str, today: dt.date,
                cells: list[str] | None = None) -> list[dict[str, Any]]:
    """Resolutions passed in the period, each with its review deadline and status on `today`."""
    out = []
    for row in _passed(sql, "r.*", first, last, today, cells):
        r = dict(row)
        due, status = review_status(r["date"], r["next_regular"], r["reviewed_on"], today)
        out.append(r | {"review_due": due, "review_status": status})
    return out


def review_status(passed_on: str, next_regular: str | None, reviewed_on: str | None,
                  today: dt.date) -> tuple[str, str]:
    """A resolution's review deadline and its status on `today`: in_time, late, overdue or not_yet_due."""
    day = dt.date.fromisoformat(passed_on)
    due = next_regular or month_end((day.replace(day=1) + dt.timedelta(days=32)).strftime("%Y-%m")).isoformat()
    reviewed = reviewed_on if reviewed_on and reviewed_on <= today.isoformat() else None
    if reviewed is not None:
        return due, "in_time" if reviewed <= due else "late"
    return due, "overdue" if due < today.isoformat() else "not_yet_due"


def review_statuses(sql: Sql, first: str, last: str, today: dt.date,
                    cells: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(cell, date, review status) of each resolution passed in the period, without its text: what a roll-up
    counts."""
    return [(r["cell_id"], r["date"], review_status(r["date"], r["next_regular"], r["reviewed_on"], today)[1])
            for r in _passed(sql, "r.cell_id, r.date, r.reviewed_on", first, last, today, cells)]


def official_counts(sql: Sql, day: dt.date, cells: list[str] | None = None) -> dict[str, int]:
    """Official members in each cell's register on `day` (exempted or temporarily away included, as the
    members service counts them for cell health); only `cells`' registers when given. Counted from the spells
    the projection keeps (`official_spells`: a home cell spell cut to the days its member was official)."""
    iso = day.isoformat()
    where, params = in_cells("s.cell_id", cells)
    rows = sql.execute(
        "SELECT s.cell_id, COUNT(*) AS n FROM official_spells s WHERE s.counted_from <= ?"
        " AND (s.counted_to IS NULL OR s.counted_to > ?)" + where + " GROUP BY s.cell_id",
        (iso, iso, *params)).fetchall()
    return {r["cell_id"]: int(r["n"]) for r in rows}
