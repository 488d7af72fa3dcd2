"""A ward's queries read the ward's rows, not the city's (issue 10: a ward's dashboard flat as the city grows).

The world: district D (ward W1: cells A, B; ward W2: cell C, which moves to W1 on 1 March) and district E
(ward W3: eight busy cells, and cell M, merged into A on 1 March), Q1 2025, reported on 15 April 2025.
A roll-up of W1 must read no row of E's cells except M's (whose history counts under A in the tree of
today), and give the same figures as a store where E's cells hold nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from services.reporting.compliance import drill
from services.reporting.queries import Queries
from tests.reporting_world import World

D = dt.date
BUSY = [f"E{i}" for i in range(1, 9)]


class Reading:
    """The store's Sql, noting the cell and meeting of every row read through it."""

    def __init__(self, sql: Any):
        self.sql = sql
        self.ring = None
        self.ids: list[str] = []

    def execute(self, query: str, params: Any = ()) -> Reading:
        self.sql.execute(query, params)
        return self

    def _note(self, rows: list[Any]) -> list[Any]:
        for row in rows:
            keys = row.keys()
            self.ids += [row[k] for k in ("cell_id", "meeting_id") if k in keys]
        return rows

    def fetchall(self) -> list[Any]:
        return self._note(self.sql.fetchall())

    def fetchone(self) -> Any:
        row = self.sql.fetchone()
        return self._note([row])[0] if row is not None else None

    def scalar(self, query: str, params: Any = ()) -> Any:
        return self.sql.scalar(query, params)


def build(w: World, busy_district: bool) -> dict[str, list[str]]:
    """The world; E's eight cells hold members, meetings, resolutions, dues and a flagged member only when
    `busy_district`. Returns each cell's meeting ids."""
    w.unit("HN", "city")
    for district, wards in (("D", ("W1", "W2")), ("E", ("W3",))):
        w.unit(district, "district", parent="HN")
        for ward in wards:
            w.unit(ward, "ward", parent=district)
    for cell, ward, block in (("A", "W1", "residential"), ("B", "W1", "administrative"), ("C", "W2", "residential"),
                              ("M", "W3", "residential"), *((e, "W3", "enterprise") for e in BUSY)):
        w.unit(cell, "cell", parent=ward, block=block)
    meetings: dict[str, list[str]] = {}
    supervisor = w.admit("B", 1)[0]
    for cell in ("A", "B", "C", "M", *(BUSY if busy_district else ())):
        people = w.admit(cell, 3)
        for month in (1, 2, 3) if cell != "M" else (1, 2):
            absent = {people[0]: False} if cell.startswith("E") else None  # E's first members skip every meeting
            guests = {supervisor: True} if cell in ("A", "E1") else None
            m = w.meeting(cell, D(2025, month, 10), dict.fromkeys(people, "official"), absent=absent, guests=guests)
            meetings.setdefault(cell, []).append(m)
            for p in people:
                w.dues(m, cell, p, f"2025-{month:02d}", paid=p != people[-1])
            if month == 1:
                w.resolution(m, cell)
        if cell in ("A", "E1"):
            w.supervise(supervisor, cell)
    w.move("C", "W1", D(2025, 3, 1))
    w.merge(["M"], "A", D(2025, 3, 1))
    return meetings


@pytest.fixture(params=["sqlite", "postgres"])
def worlds(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """Both worlds, on SQLite and on PostgreSQL (whose planner may pick other plans for the scoped reads)."""
    settings = request.getfixturevalue(f"{request.param}_settings")
    busy = World(settings)
    alone = World(dataclasses.replace(settings, data_dir=str(tmp_path / "alone"),
                                      pg_db_prefix=settings.pg_db_prefix + "_alone"))
    try:
        yield busy, build(busy, True), alone, build(alone, False)
    finally:
        busy.store.close()
        alone.store.close()


def ask(w: World, method: str, params: dict[str, str]) -> tuple[Any, Reading]:
    with w.store.read() as sql:
        reading = Reading(sql)
        return getattr(Queries(reading, w.today), method)(params), reading


def test_a_wards_queries_read_no_row_of_another_districts_cells(worlds: Any) -> None:
    busy, meetings, _, _ = worlds
    others = {busy.codes[e] for e in BUSY} | {m for e in BUSY for m in meetings[e]}
    w1 = busy.codes["W1"]
    for mode in ("period", "today"):
        scope = {"unit": w1, "period": "2025-Q1", "tree": mode}
        asked = [("rollup", scope | {"by": "children"}), ("cell_months", {"unit": w1, "from": "2025-01",
                                                                          "to": "2025-03", "tree": mode}),
                 ("member_years", {"unit": w1, "year": "2025", "tree": mode}), ("supervisors", scope),
                 *(("drill", scope | {"figure": f}) for f in drill.FIGURES)]
        for method, params in asked:
            _, reading = ask(busy, method, params)
            assert reading.ids, (method, params)
            assert not others & set(reading.ids), (method, params)
    # the district's roll-up does read their cells' counts, and its drill-down their meetings
    _, reading = ask(busy, "rollup", {"unit": busy.codes["E"], "period": "2025-Q1"})
    assert {busy.codes[e] for e in BUSY} <= set(reading.ids)
    _, reading = ask(busy, "drill", {"unit": busy.codes["E"], "period": "2025-Q1", "figure": "meetings"})
    assert others <= set(reading.ids)


def test_a_ward_has_the_same_figures_as_on_a_store_holding_it_alone(worlds: Any) -> None:
    busy, _, alone, _ = worlds

    def answers(w: World, unit: str) -> dict[str, Any]:
        out = {}
        for mode in ("period", "today"):
            for by in ("none", "block", "children"):
                result, _ = ask(w, "rollup", {"unit": w.codes[unit], "period": "2025-Q1", "tree": mode, "by": by})
                codes = {uid: code for code, uid in w.codes.items()}
                out[f"{mode} {by}"] = (result["figures"], sorted((codes.get(g["key"], g["key"]), g["figures"])
                                                                  for g in result["groups"]))  # ids differ
        return out

    for unit in ("W1", "W2", "A", "D"):
        assert answers(busy, unit) == answers(alone, unit), unit
    w1 = answers(busy, "W1")
    # by hand: the period's tree counts A and B (3 meetings each) and C from March (1); today's adds C's
    # January and February and M's two meetings (merged into A)
    assert w1["period none"][0]["meetings"] == 7 and w1["today none"][0]["meetings"] == 11
    assert w1["period none"][0]["cells"] == 3 and w1["today none"][0]["cells"] == 4
    assert answers(busy, "E")["period none"][0]["meetings"] == 2 + 3 * len(BUSY)


def test_counted_tallies_give_the_figures_of_the_facts(worlds: Any) -> None:
    """tally.collect (counts per cell and month from the database) against rollup.collect (every fact laid out
    with its path): equal roll-ups for every unit, tree mode, period, block and grouping, moves and merges
    included. Both kinds of period end, a month still running and a quarter of months before the report date."""
    from services.reporting.compliance import rollup, tally
    from services.reporting.compliance.periods import parse_period
    from services.reporting.compliance.tree import Tree

    busy, _, _, _ = worlds
    # and a cell whose meetings in January (before its first day, 1 February) and February are thematic only,
    # assigned a committee member from 10 February who attends none of them, and with a meeting after one of
    # the report dates (2 April: the year's kept counts of its cell then stand for a later date, not this one)
    busy.unit("T", "cell", parent="W2", block="residential", since=D(2025, 2, 1))
    people = busy.admit("T", 2)
    busy.supervise(busy.admit("B", 1)[0], "T", D(2025, 2, 10))
    for day, kind in ((D(2025, 1, 20), "thematic"), (D(2025, 2, 15), "thematic"), (D(2025, 3, 12), "regular"),
                      (D(2025, 4, 2), "combined")):
        busy.meeting("T", day, dict.fromkeys(people, "official"), kind=kind)
    # and a cell assigned a committee member all along, who attends one of its two meetings
    busy.unit("S", "cell", parent="W2", block="enterprise")
    people, supervisor = busy.admit("S", 2), busy.admit("B", 1)[0]
    busy.supervise(supervisor, "S", D(2024, 6, 1))
    busy.meeting("S", D(2025, 1, 8), dict.fromkeys(people, "official"), guests={supervisor: True})
    busy.meeting("S", D(2025, 2, 8), dict.fromkeys(people, "official"))
    compared = 0
    with busy.store.read() as sql:
        tree = Tree.load(sql)
        for today in (busy.today, D(2025, 3, 20)):
            for raw in ("2025", "2025-Q1", "2025-01", "2025-02", "2025-03"):
                period = parse_period(raw, today)
                for mode in ("period", "today"):
                    for unit in (None, *(busy.codes[u] for u in ("D", "E", "W1", "W2", "W3", "A", "C", "M", "T",
                                                                 "S"))):
                        counted = tally.collect(sql, tree, period, mode, today, unit)
                        facts = tally.of_facts(rollup.collect(sql, tree, period, mode, today, unit))
                        for block in (None, "residential", "enterprise"):
                            for by in (None, "block", "children"):
                                want = tally.rollup(facts, unit, by, block)
                                assert tally.rollup(counted, unit, by, block) == want, (raw, mode, unit, block, by)
                                compared += 1
    assert compared == 2 * 5 * 2 * 11 * 3 * 3


def test_assignments_cover_a_period_only_without_a_day_missing() -> None:
    """tally._covers, which lets a kept year's supervised meetings be counted without reading them: spells
    [valid_from, valid_to), in any order, must leave no day from the first to the last uncovered."""
    from services.reporting.compliance.tally import _covers

    first, end = "2025-01-01", "2025-12-31"
    assert _covers([("2025-01-01", None)], first, end)
    assert _covers([("2024-01-01", "2026-01-01")], first, end)
    assert _covers([("2025-06-01", None), ("2024-01-01", "2025-06-01")], first, end)  # adjacent, any order
    assert not _covers([("2025-01-02", None)], first, end)  # the first day missing
    assert not _covers([("2024-01-01", "2025-12-31")], first, end)  # ends the last day: that day is not covered
    assert not _covers([("2024-01-01", "2025-05-31"), ("2025-06-01", None)], first, end)  # 31 May missing
    assert not _covers([], first, end)
