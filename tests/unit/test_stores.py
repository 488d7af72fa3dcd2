"""Shared tables created by many processes at once (every service opens the auth and key stores at start)."""

from __future__ import annotations

import concurrent.futures

from shared.stores import TrackedStore


def test_many_openers_of_one_new_store_all_succeed(postgres_settings):
    """PostgreSQL refuses the loser of two concurrent CREATE TABLE IF NOT EXISTS (a unique violation on pg_type,
    or "type ... already exists"); each opener retries and sees the table. Eight at once, three rounds."""
    for round_ in range(3):
        def open_one(_: int, round_: int = round_) -> int:
            store = TrackedStore(postgres_settings, f"race{round_}", name="race")
            try:
                store.create_tables([f"CREATE TABLE IF NOT EXISTS race_rows_{round_} (id INTEGER PRIMARY KEY)"])
                return store.position("x")
            finally:
                store.close()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(open_one, range(8))) == [0] * 8
