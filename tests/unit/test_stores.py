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


def test_insert_many_writes_what_one_insert_per_row_writes(store_settings):
    """Sql.insert_many: multi-row VALUES lists on PostgreSQL (in several statements when long), executemany on
    SQLite and whenever an ON CONFLICT ... DO UPDATE would meet one key twice; the rows end up the same."""
    store = TrackedStore(store_settings, "insert_many")
    store.create_tables(["CREATE TABLE IF NOT EXISTS t (k TEXT NOT NULL, m TEXT NOT NULL, n INTEGER NOT NULL,"
                         " tag TEXT NOT NULL, PRIMARY KEY (k, m))"])
    plain = "INSERT INTO t (k, m, n, tag) VALUES (?, ?, ?, 'plain')"
    upsert = ("INSERT INTO t (k, m, n, tag) VALUES (?, ?, ?, 'upsert') ON CONFLICT (k, m) DO UPDATE SET n = excluded.n,"
              " tag = excluded.tag")
    with store.write() as sql:
        assert sql.insert_many(plain, [(f"k{i}", "a", i) for i in range(7000)]) == 7000  # 2 statements of 5,000
        assert sql.insert_many(upsert, [("k1", "a", -1), ("new", "a", 5)]) == 2  # unique keys: one statement
        # the same key twice: must apply in order, the later row winning (PostgreSQL refuses it in one list)
        assert sql.insert_many(upsert, [("k2", "a", 10), ("dup", "b", 1), ("k2", "a", 20)]) == 3
        assert sql.insert_many("INSERT INTO t (k, m, n, tag) VALUES (?, ?, ?, ?) ON CONFLICT (k, m) DO NOTHING",
                               [("k3", "a", 99, "x"), ("k3", "z", 1, "y"), ("k3", "z", 2, "y")]) == 1
        rows = {(r["k"], r["m"]): (r["n"], r["tag"]) for r in sql.execute("SELECT k, m, n, tag FROM t").fetchall()}
    store.close()
    assert len(rows) == 7000 + 3
    assert rows[("k0", "a")] == (0, "plain") and rows[("k6999", "a")] == (6999, "plain")
    assert rows[("k1", "a")] == (-1, "upsert") and rows[("new", "a")] == (5, "upsert")
    assert rows[("k2", "a")] == (20, "upsert") and rows[("dup", "b")] == (1, "upsert")
    assert rows[("k3", "a")] == (3, "plain") and rows[("k3", "z")] == (1, "y")


def _terminate(dbname: str) -> int:
    """End the database's backends and wait until each has exited (PostgreSQL 14+: the timeout argument makes
    pg_terminate_backend wait). Without the wait it only signals, and a read made at once can beat the backend's
    FATAL notice to the socket, so the check has nothing to see yet (CI failed on that once)."""
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = %s"
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


def test_a_read_model_session_runs_without_jit_and_with_the_work_mem_asked_for(postgres_settings, monkeypatch):
    """Reporting's roll-ups lost 10-40 ms a query to JIT compilation and sorted on disk at 4MB (stores.py)."""
    monkeypatch.setenv("CHIBO_PG_WORK_MEM", "48MB")
    store = TrackedStore(postgres_settings, "options_test", pool_size=1, max_overflow=0)
    try:
        with store.read() as sql:
            assert sql.scalar("SHOW jit") == "off"
            assert sql.scalar("SHOW work_mem") == "48MB"
    finally:
        store.close()
