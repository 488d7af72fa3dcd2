"""Storage for a service: the eventsourcing event store and tracked read models, on SQLite or PostgreSQL.

Read models (projections, the roster replica, the relay's published position) live in a `TrackedStore`: a
eventsourcing datastore plus its tracking recorder, so that "apply this event" and "remember that position
N of source S was applied" commit in one transaction. The tracking row is single-row-per-source and only
ever moves forward (eventsourcing refuses a position that is not greater), which is what makes a
redelivered event harmless.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

# Imported here, at module load, not lazily: nameko sets extensions up concurrently in greenthreads, and two
# first imports of psycopg racing each other fail with a partially initialised module.
import psycopg
from eventsourcing.persistence import IntegrityError, ProgrammingError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from shared.config import StoreSettings

_QMARK = re.compile(r"\?")


class Dialects(NamedTuple):
    """One statement written for each database, where their SQL differs (a trigger: SQLite's body is inline,
    PostgreSQL's a PL/pgSQL function). `Sql.execute` runs the one of its database."""

    sqlite: str
    postgres: str


Statement = str | Dialects  # what a schema lists: most statements are the same on both


def _connect_with_backoff(settings: StoreSettings, attempts: int = 8) -> psycopg.Connection:
    """A connection to the server's `postgres` database; a refused one (the server restarting, or out of
    connection slots for a moment) is retried with backoff (0.25 s doubling, about 30 s in all) so a service
    starting then waits instead of dying half set up."""
    delay = 0.25
    for attempt in range(attempts):
        try:
            return psycopg.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                                   password=settings.pg_password or None, dbname="postgres", autocommit=True,
                                   connect_timeout=10)
        except psycopg.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
    raise AssertionError("unreachable")


def _readable_now(fd: int) -> bool:
    """Whether the server has sent anything on this socket: a zero-timeout poll, with the unpatched `select`
    module in an eventlet process (its green one has no poll and would switch to the hub)."""
    import select
    import sys

    patcher = sys.modules.get("eventlet.patcher")  # imported only where eventlet already is
    module = patcher.original("select") if patcher is not None else select
    poller = module.poll()
    poller.register(fd, module.POLLIN)
    return bool(poller.poll(0))


def ping_if_spoken(conn: psycopg.Connection[Any]) -> None:
    """The pool's check before it lends a connection: the round trip of a pre-ping only when the server has
    said something since the connection was last used, which is how a terminated backend or a restarting
    server shows (its FATAL notice, then the socket's end); an idle healthy connection has nothing to read.
    A pre-ping on every checkout was an eighth of a meetings command's CPU (tests/bench/single_commands.py)."""
    from psycopg_pool import ConnectionPool

    if conn.closed or _readable_now(conn.pgconn.socket):
        ConnectionPool.check_connection(conn)


def quiet_pre_ping(datastore: Any) -> None:
    """Use `ping_if_spoken` as the check of an eventsourcing PostgreSQL datastore's pool (built with pre_ping)."""
    pool = getattr(datastore, "pool", None)
    if pool is not None and getattr(pool, "_check", None) is not None:  # psycopg_pool's check callback
        pool._check = ping_if_spoken


def ensure_database(settings: StoreSettings, service: str) -> None:
    """Create the service's PostgreSQL database if it does not exist yet (no-op for SQLite)."""
    if settings.kind != "postgres":
        return
    dbname = settings.dbname(service)
    with _connect_with_backoff(settings) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            # Two extensions of one service may race here (nameko sets them up concurrently): the loser
            # sees DuplicateDatabase, or UniqueViolation when both passed the check above.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                conn.execute(f'CREATE DATABASE "{dbname}"')


def pool_sizes() -> tuple[int, int]:
    """(connections kept, extra ones allowed) per PostgreSQL pool: CHIBO_PG_POOL_SIZE, CHIBO_PG_MAX_OVERFLOW
    (default 4 and 4). A process holds several pools (event store, views, auth): a small deployment, or a test
    run sharing a server of 100 connections, sets them lower."""
    return int(os.environ.get("CHIBO_PG_POOL_SIZE", "4")), int(os.environ.get("CHIBO_PG_MAX_OVERFLOW", "4"))


def read_model_options() -> str:
    """PostgreSQL settings for a read-model store's sessions (libpq `options`).

    jit off: reporting's roll-ups are costed high enough for PostgreSQL to JIT-compile them, which took 10-40 ms
    per query and saved nothing on queries of tens of milliseconds (EXPLAIN ANALYZE, BENCHMARKS.md).
    work_mem (CHIBO_PG_WORK_MEM, default 64MB): a district's dues counted per cell and month sorted on disk at
    the server's default of 4MB (three times slower); it is per sort or hash, per connection."""
    return f"-c jit=off -c work_mem={os.environ.get('CHIBO_PG_WORK_MEM', '64MB')}"


def event_store_env(settings: StoreSettings, service: str) -> dict[str, str]:
    """Environment for an eventsourcing Application storing `service`'s events, encrypted at rest.

    Every stored event's state is sealed with AES-256-GCM (eventsourcing's `cryptography` AESCipher, the
    key CHIBO.cipher_key); personal fields inside it are sealed once more with the person's own key
    (shared/pii.py), which erasure destroys.
    """
    from shared.eventstore import pii_store_env  # both import this module
    from shared.pii import key_settings

    cipher = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
              "CIPHER_KEY": key_settings(settings).cipher, **pii_store_env(settings)}
    if settings.kind == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path(service, "events")),
            "SQLITE_LOCK_TIMEOUT": "10",
            **cipher,
        }
    ensure_database(settings, service)
    return {
        **cipher,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": settings.dbname(service),
        "POSTGRES_HOST": settings.pg_host,
        "POSTGRES_PORT": str(settings.pg_port),
        "POSTGRES_USER": settings.pg_user,
        "POSTGRES_PASSWORD": settings.pg_password,
        "POSTGRES_POOL_SIZE": str(pool_sizes()[0]),
        "POSTGRES_MAX_OVERFLOW": str(pool_sizes()[1]),
        "POSTGRES_PRE_PING": "y",
    }


class Sql:
    """A cursor that takes `?` placeholders on both databases."""

    def __init__(self, cursor: Any, postgres: bool, store: TrackedStore | None = None):
        self._cursor = cursor
        self._postgres = postgres
        self._store = store

    @property
    def store(self) -> TrackedStore | None:
        """The store this cursor reads (None for a bare cursor)."""
        return self._store

    @property
    def ring(self) -> Any:
        """The key ring that opens the sealed personal values of this store's rows (shared/pii.py)."""
        return self._store.keyring() if self._store is not None else None

    def execute(self, sql: Statement, params: Sequence[Any] = ()) -> Sql:
        if isinstance(sql, Dialects):  # (its `?` are parameters too; a trigger's body, which has none, is left)
            sql = sql.postgres if self._postgres else sql.sqlite
            if self._postgres and params:
                sql = _QMARK.sub("%s", sql)
        elif self._postgres:
            sql = _QMARK.sub("%s", sql)
        self._cursor.execute(sql, tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Sql:
        """One statement for many rows (psycopg pipelines them: far fewer round trips than a loop)."""
        if self._postgres:
            sql = _QMARK.sub("%s", sql)
        self._cursor.executemany(sql, [tuple(r) for r in rows])
        return self

    def insert_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> int:
        """`INSERT INTO t (c, ...) VALUES (?, ...) [ON CONFLICT ...]` for many rows; returns the rows written.

        On PostgreSQL the rows go as multi-row VALUES lists, a few hundred per statement: the server then plans
        and runs one statement per list instead of one per row, which is most of what a pipelined `executemany`
        still costs. Not when an `ON CONFLICT (key) DO UPDATE` would meet the same key twice in one list
        (PostgreSQL refuses that, and the rows must apply one after the other): then, and on SQLite, whose calls
        are in-process, it is `executemany`."""
        if not self._postgres or len(rows) < 2 or not _unique_conflict_keys(statement, rows):
            return self.executemany(statement, rows).rowcount
        width = statement.partition(" VALUES (")[2].partition(")")[0].count("?")
        per_statement = max(1, 20000 // width)  # PostgreSQL allows 65,535 parameters per statement
        written = 0
        # A raw cursor ($1, $2, ... written here): psycopg's own %s conversion caches only statements under 4 KiB
        # and parsed each long VALUES list anew with a regular expression (a fifth of a replay's projecting CPU).
        with psycopg.RawCursor(self._cursor.connection) as raw:
            for start in range(0, len(rows), per_statement):
                part = rows[start:start + per_statement]
                raw.execute(_values_statement(statement, len(part)), [value for row in part for value in row])
                written += raw.rowcount
        return written

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement (eventsourcing's SQLite wrapper hides the raw cursor's)."""
        return int(getattr(self._cursor, "sqlite_cursor", self._cursor).rowcount)

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    def fetchmany(self, size: int) -> list[Any]:
        """The next `size` rows (fewer at the end, none after): a large result without all its rows in memory."""
        return list(getattr(self._cursor, "sqlite_cursor", self._cursor).fetchmany(size))  # as rowcount

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        if row is None:
            return None
        return row[next(iter(row.keys()))] if hasattr(row, "keys") else row[0]


@functools.lru_cache(maxsize=64)
def _values_statement(statement: str, count: int) -> str:
    """`INSERT ... VALUES (?, ?) [tail]` as one statement of `count` rows with PostgreSQL's numbered
    parameters: `VALUES ($1, $2), ($3, $4) [tail]`."""
    head, _, rest = statement.partition(" VALUES (")
    marks, _, tail = rest.partition(")")
    if "?" in tail:
        raise ValueError(f"insert_many takes parameters in its VALUES list only: {statement!r}")
    pieces = marks.split("?")  # literals between the marks (`'held'`) stay where they are
    width = len(pieces) - 1

    def numbered(row: int) -> str:
        marked = (f"{piece}${row * width + column + 1}" for column, piece in enumerate(pieces[:-1]))
        return "(" + "".join(marked) + pieces[-1] + ")"

    values = ", ".join(numbered(row) for row in range(count))
    return f"{head} VALUES {values}{tail}"


_CONFLICT_UPDATE = re.compile(r"ON CONFLICT \(([^)]*)\) DO UPDATE")
_COLUMNS = re.compile(r"^INSERT INTO \S+ \(([^)]*)\)")


def _unique_conflict_keys(statement: str, rows: Sequence[Sequence[Any]]) -> bool:
    """True unless the statement updates on conflict and two rows share the conflict key."""
    conflict = _CONFLICT_UPDATE.search(statement)
    if conflict is None:
        return True
    columns = [c.strip() for c in _COLUMNS.match(statement).group(1).split(",")]  # type: ignore[union-attr]
    key = [columns.index(c.strip()) for c in conflict.group(1).split(",")]
    return len({tuple(row[i] for i in key) for row in rows}) == len(rows)


class AlreadyApplied(Exception):
    """The position was already recorded for this source: the event is a duplicate."""


def _created_once(create: Any, attempts: int = 3) -> None:
    """Run `create` (CREATE ... IF NOT EXISTS); retried when another process created the same table at the
    same moment (PostgreSQL then refuses the loser's row in pg_type; a second try sees the table)."""
    for attempt in range(attempts):
        try:
            create()
            return
        except (IntegrityError, ProgrammingError, psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            # the loser of a concurrent CREATE sees a unique violation on pg_type, or "type ... already exists"
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


class TrackedStore:
    """A read-model database with per-source tracking of the last applied position."""

    def __init__(self, settings: StoreSettings, service: str, name: str = "views", pool_size: int | None = None,
                 max_overflow: int | None = None):
        """`pool_size`/`max_overflow`: this store's PostgreSQL pool (default: `pool_sizes()`, from the
        environment); a store of short reads (auth, keys) asks for fewer."""
        self.settings = settings
        default_size, default_overflow = pool_sizes()
        size = default_size if pool_size is None else pool_size
        overflow = max_overflow if max_overflow is not None else default_overflow if pool_size is None else size
        self._ring: Any = None
        self._name = name
        self.postgres = settings.kind == "postgres"
        if self.postgres:
            ensure_database(settings, service)
            self.datastore: Any = PostgresDatastore(
                dbname=settings.dbname(service),
                host=settings.pg_host,
                port=settings.pg_port,
                user=settings.pg_user,
                password=settings.pg_password,
                pool_size=size,
                max_overflow=overflow,
                pre_ping=True,
            )
            self.datastore.pool.kwargs["options"] = read_model_options()  # before the pool opens (lazily)
            self.tracking: Any = PostgresTrackingRecorder(
                self.datastore, tracking_table_name=f"{name}_tracking"
            )
            quiet_pre_ping(self.datastore)
        else:
            self.datastore = SQLiteDatastore(str(settings.sqlite_path(service, name)), lock_timeout=10)
            self.tracking = SQLiteTrackingRecorder(self.datastore)
        _created_once(self.tracking.create_table)

    def create_tables(self, statements: Sequence[Statement]) -> None:
        def create() -> None:
            with self.write() as sql:
                for statement in statements:
                    sql.execute(statement)

        _created_once(create)

    def position(self, source: str) -> int:
        """The last position of `source` applied here (0 when none)."""
        return self.tracking.max_tracking_id(source) or 0

    def position_in(self, sql: Sql, source: str) -> int:
        """`position`, read in the caller's transaction (so it matches the rows that transaction sees)."""
        table = f"{self._name}_tracking" if self.postgres else "tracking"
        value = sql.scalar(f"SELECT MAX(notification_id) FROM {table} WHERE application_name = ?", (source,))
        return int(value or 0)

    @contextlib.contextmanager
    def write(self) -> Iterator[Sql]:
        with self.datastore.transaction(commit=True) as cursor:
            yield Sql(cursor, self.postgres, self)

    @contextlib.contextmanager
    def read(self) -> Iterator[Sql]:
        with self.datastore.transaction(commit=False) as cursor:
            yield Sql(cursor, self.postgres, self)

    def first(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of one read statement run alone: on PostgreSQL outside a transaction (the pool's
        connections are autocommit), one round trip where `read` adds BEGIN and ROLLBACK around it."""
        if not self.postgres:
            with self.read() as q:
                return q.execute(sql, params).fetchone()
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            return Sql(cursor, True, self).execute(sql, params).fetchone()

    @contextlib.contextmanager
    def tracked(self, source: str, position: int, first: int | None = None) -> Iterator[Sql]:
        """One transaction that records `position` for `source` and whatever the caller writes.

        Raises AlreadyApplied (and writes nothing) when the position is not beyond the recorded one, or, for a
        batch of events `first`..`position`, when `first` is not: the recorded position is moved to `first`
        and then to `position` in the transaction, so a batch overlapping what another replica applied
        meanwhile is refused as a whole rather than applied twice in part.
        """
        try:
            with self.datastore.transaction(commit=True) as cursor:
                # eventsourcing's own tracking insert: an upsert that only moves forward, else IntegrityError.
                # On PostgreSQL it locks the row until commit: a concurrent replica's insert waits, then fails.
                if first is not None and first < position:
                    self.tracking._insert_tracking(cursor, Tracking(source, first))
                self.tracking._insert_tracking(cursor, Tracking(source, position))
                yield Sql(cursor, self.postgres, self)
        except IntegrityError as exc:
            if "Failed to record tracking" in str(exc):
                raise AlreadyApplied(f"{source}:{position}") from exc
            raise

    def keyring(self) -> Any:
        """The process's key ring for these settings, taken on first use and handed back by `close`."""
        if self._ring is None:
            from shared import pii  # pii's own key store is a TrackedStore

            self._ring = pii.keyring(self.settings)
        return self._ring

    def close(self) -> None:
        if self._ring is not None:
            from shared import pii

            pii.release(self.settings)
            self._ring = None
        self.datastore.close()
