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


def _terminate(dbname: str) -> int:
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                            " AND pid <> pg_backend_pid()", (dbname,)).fetchall()
    return sum(1 for (ok,) in rows if ok)


def test_a_terminated_backend_is_noticed_when_its_connection_is_lent(postgres_settings):
    """No round trip per checkout (shared/stores.py ping_if_spoken), yet a connection whose backend was ended
    since its last use is checked and replaced before it is lent: the next read works."""
    from shared.stores import ping_if_spoken

    store = TrackedStore(postgres_settings, "ping", pool_size=1, max_overflow=0)
    try:
        assert store.datastore.pool._check is ping_if_spoken
        assert store.first("SELECT 1 AS one")["one"] == 1
        assert _terminate(postgres_settings.dbname("ping")) >= 1
        for _ in range(3):
            assert store.first("SELECT 2 AS two")["two"] == 2
            with store.read() as sql:
                assert sql.scalar("SELECT 3") == 3
    finally:
        store.close()
