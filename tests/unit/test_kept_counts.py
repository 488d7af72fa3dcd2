"""The counts the reporting store's database keeps (schema.KEPT_COUNTS): `dues_months` is, after any writes to
`dues`, exactly the GROUP BY it stands for, on both databases, and a store that has dues but not yet the table
(one made before it) gets it filled when the schema is applied."""

from __future__ import annotations

import random

from services.reporting.compliance import schema
from shared.stores import Dialects, TrackedStore

GROUPED = ("SELECT cell_id, month, SUM(paid) AS paid, COUNT(*) AS recorded FROM dues"
           " GROUP BY cell_id, month ORDER BY cell_id, month")
KEPT = "SELECT cell_id, month, paid, recorded FROM dues_months ORDER BY cell_id, month"
UPSERT = ("INSERT INTO dues (member_id, month, paid, meeting_id, cell_id) VALUES (?, ?, ?, ?, ?)"
          " ON CONFLICT (member_id, month) DO UPDATE SET paid = excluded.paid, meeting_id = excluded.meeting_id,"
          " cell_id = excluded.cell_id")  # the projection's statement (projection.py, DuesCollected)


def rows(store: TrackedStore, statement: str) -> list[tuple]:
    with store.read() as sql:
        return [(r["cell_id"], r["month"], int(r["paid"]), int(r["recorded"]))
                for r in sql.execute(statement).fetchall()]


def test_dues_months_is_the_grouped_dues_after_any_writes(store_settings):
    """Inserts, upserts that change a payment, a cell or nothing, one row at a time and as multi-row VALUES,
    updates and deletes: the kept counts equal the GROUP BY after each round, and a (cell, month) left
    without dues has no row."""
    store = TrackedStore(store_settings, "kept")
    store.create_tables(schema.DDL)
    rng = random.Random(3)
    members, months, cells = [f"m{i}" for i in range(40)], ["2025-01", "2025-02", "2025-03"], ["c1", "c2", "c3"]
    try:
        for round_ in range(6):
            with store.write() as sql:
                batch = [(rng.choice(members), rng.choice(months), rng.randint(0, 1), f"mt{round_}",
                          rng.choice(cells)) for _ in range(60)]
                sql.insert_many(UPSERT, batch)  # multi-row VALUES on PostgreSQL where the keys are unique
                for row in batch[:10]:
                    sql.execute(UPSERT, row)  # the same rows again: nothing changes
                sql.execute("UPDATE dues SET paid = 1 - paid WHERE member_id = ?", (rng.choice(members),))
                sql.execute("UPDATE dues SET cell_id = ? WHERE month = ? AND member_id < ?",
                            (rng.choice(cells), rng.choice(months), "m2"))
                sql.execute("UPDATE dues SET month = ? WHERE member_id = ? AND month = '2025-01'",
                            (f"2026-{round_ + 1:02d}", rng.choice(members)))  # a month of its own: no clash
                sql.execute("DELETE FROM dues WHERE member_id = ?", (rng.choice(members),))
            grouped, kept = rows(store, GROUPED), rows(store, KEPT)
            assert kept == grouped and grouped, f"round {round_}"
        with store.write() as sql:
            sql.execute("DELETE FROM dues WHERE cell_id = 'c1'")
        assert not [r for r in rows(store, KEPT) if r[0] == "c1"] and rows(store, KEPT) == rows(store, GROUPED)
    finally:
        store.close()


def test_a_store_made_before_the_kept_counts_gets_them_filled(store_settings):
    """A store with dues and no `dues_months` (made before the table): applying the schema fills it from the
    dues, and from then on the triggers keep it; applying the schema again changes nothing."""
    store = TrackedStore(store_settings, "older")
    store.create_tables([s for s in schema.DDL if s not in schema.KEPT_COUNTS and "dues_months (" not in str(s)])
    try:
        with store.write() as sql:
            sql.insert_many(UPSERT, [(f"m{i}", "2025-01", i % 2, "mt", f"c{i % 3}") for i in range(30)])
        store.create_tables(schema.DDL)  # the service starting on the new version
        assert rows(store, KEPT) == rows(store, GROUPED) and len(rows(store, KEPT)) == 3
        with store.write() as sql:
            sql.execute(UPSERT, ("m0", "2025-01", 1, "mt2", "c1"))
        store.create_tables(schema.DDL)
        assert rows(store, KEPT) == rows(store, GROUPED)
    finally:
        store.close()


def test_every_trigger_is_written_for_both_databases():
    """A kept count is a trigger on each database: each Dialects pair names the same table on both."""
    pairs = [s for s in schema.KEPT_COUNTS if isinstance(s, Dialects)]
    assert pairs and all(" ON dues" in p.sqlite and (" ON dues" in p.postgres or "FUNCTION" in p.postgres)
                         for p in pairs)
