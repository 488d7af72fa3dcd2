"""Replay and time travel for the reporting store (issue 5), free of nameko.

* `rebuild`: drop a separate store and rebuild it from position 0 of every source's notification log, through
  the notification API and the very path the live consumer takes (`TrackedApplier`: `TrackedStore.tracked` +
  the projection, dead-lettering included), optionally only with the events that occurred up to a date
  (`as_of`, occurred_at in Việt Nam time) or that the platform knew at an instant (`known_at`, recorded_at).
* `snapshot`: the tracked positions and a digest per table, read in one consistent transaction.
* `verify`: snapshot the live store, rebuild up to exactly its positions, and compare the digests table by table.
  A difference means the live store is not what the current projection makes of the logs (a bug in a
  projection step, an order it does not tolerate, a store edited by hand, an event dead-lettered live that the
  current code accepts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import requests

from shared import metrics
from shared.clock import VIETNAM
from shared.config import ChiboSettings, StoreSettings
from shared.consumer import FetchRange, Project, TrackedApplier, http_fetch_range, is_transient
from shared.contracts import Envelope, Payload, parse_event
from shared.readahead import read_ahead
from shared.stores import Sql, Statement, TrackedStore, ensure_database

SOURCES = ("members", "meetings")
LIVE = "reporting"
# Stores a replay must never drop: the live read models and the writers' own databases.
PROTECTED = frozenset({"reporting", "members", "meetings"})
_TARGET = re.compile(r"[a-z][a-z0-9_]{0,39}")

# TrackedApplier's dead_letters table (shared/consumer.py). Its `failed_at` is the wall-clock instant of the
# failure: a replay fails at another instant by construction, so that column is left out of the digest. The
# rest (which event, and why) must match: the replay must refuse exactly the events the live consumer refused.
DEAD_LETTERS = "dead_letters"
DEAD_LETTERS_KEY = ("source", "position")
VOLATILE_COLUMNS: dict[str, frozenset[str]] = {DEAD_LETTERS: frozenset({"failed_at"})}

class ReplayError(Exception):
    """A replay that cannot run as asked (a protected target, a missing live store or table)."""

    def __init__(self, message: str, vi: str):
        super().__init__(message)
        self.vi = vi

    def message_in(self, lang: str) -> str:
        return self.vi if lang == "vi" else str(self)


ProjectMany = Callable[[Sql, Iterable[tuple[Envelope, Payload]]], None]


@dataclass(frozen=True)
class Projection:
    ddl: Sequence[Statement]
    tables: Mapping[str, tuple[str, ...]]
    project: Project
    project_many: ProjectMany | None = None  # a batch in one transaction (default: `project` for each)
    # statements of `ddl` a replay may run after its bulk load (query indexes, kept counts and their triggers)
    after_load: Sequence[Statement] = ()


def default_projection() -> Projection:
    """The reporting projection the live service runs (compliance/schema.py and projection.py)."""
    from services.reporting.compliance import projection, schema

    return Projection(schema.DDL, schema.TABLES, projection.project, projection.project_many, schema.AFTER_LOAD)


# -- snapshot ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    positions: dict[str, int]
    digests: dict[str, str]
    rows: dict[str, int]


def _normal(value: Any) -> Any:
    """One representation per value on SQLite and PostgreSQL (bool/int, Decimal, dates, bytes)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _table_exists(sql: Sql, postgres: bool, table: str) -> bool:
    if postgres:
        return sql.scalar("SELECT to_regclass(?::text) IS NOT NULL", (table,)) is True
    return sql.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)) == 1


def table_digest(sql: Sql, postgres: bool, table: str, key: Sequence[str]) -> tuple[str, int]:
    """(sha256 hex, row count) of a table: rows in key order, columns by name, values normalised.

    Keys are ordered by their text in byte order on both databases (PostgreSQL's default collation would
    order text by locale rules, SQLite by bytes); the order only has to be the same on both, not natural.
    """
    collate = ' COLLATE "C"' if postgres else ""
    order = ", ".join(f"CAST({column} AS TEXT){collate}" for column in key)
    volatile = VOLATILE_COLUMNS.get(table, frozenset())
    digest = hashlib.sha256()
    count = 0
    columns: list[str] | None = None
    cursor = sql.execute(f"SELECT * FROM {table} ORDER BY {order}")
    while rows := cursor.fetchmany(2000):  # a city's events table is millions of rows: never all as Python rows
        for row in rows:
            values = {name.lower(): row[name] for name in row.keys()}  # noqa: SIM118 - sqlite3.Row is not a dict
            if columns is None:
                columns = sorted(c for c in values if c not in volatile)
                digest.update(json.dumps(columns).encode() + b"\n")
            line = json.dumps([_normal(values[c]) for c in columns], ensure_ascii=False, separators=(",", ":"))
            digest.update(line.encode("utf-8") + b"\n")
            count += 1
    return digest.hexdigest(), count


def snapshot(store: TrackedStore, tables: Mapping[str, Sequence[str]] | None = None,
             sources: Sequence[str] = SOURCES) -> Snapshot:
    """Positions and per-table digests of `store`, read in ONE transaction, so that a store the live
    consumers keep writing still gives positions and digests that belong together (PostgreSQL: REPEATABLE
    READ, one snapshot for every statement; SQLite: an explicit read transaction on a WAL database, which
    sees the database as of its first read). The dead_letters table is included when it exists."""
    tables = dict(default_projection().tables if tables is None else tables)
    tracking = getattr(store.tracking, "tracking_table_name", "tracking")
    with store.read() as sql:
        if store.postgres:
            sql.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # the transaction's first statement
        positions = {
            s: int(sql.scalar(f"SELECT MAX(notification_id) FROM {tracking} WHERE application_name = ?", (s,)) or 0)
            for s in sources
        }
        if DEAD_LETTERS not in tables and _table_exists(sql, store.postgres, DEAD_LETTERS):
            tables[DEAD_LETTERS] = DEAD_LETTERS_KEY
        digests: dict[str, str] = {}
        rows: dict[str, int] = {}
        for table, key in tables.items():
            if not _table_exists(sql, store.postgres, table):
                raise ReplayError(f"the store has no table {table!r}: does it run another projection?",
                                  f"kho không có bảng {table!r}: kho đang chạy một phép chiếu khác?")
            digests[table], rows[table] = table_digest(sql, store.postgres, table, key)
    return Snapshot(positions, digests, rows)


# -- rebuild -------------------------------------------------------------------------------------------------


def check_target(target: str) -> None:
    if not _TARGET.fullmatch(target):
        raise ReplayError(f"target {target!r}: lower-case letters, digits and _ only, starting with a letter",
                          f"kho đích {target!r}: chỉ chữ thường không dấu, chữ số và _, bắt đầu bằng chữ")
    if target in PROTECTED:
        raise ReplayError(f"target {target!r} is a live store; a replay only drops a store of its own",
                          f"kho đích {target!r} là kho đang chạy; dựng lại chỉ được xóa kho riêng của nó")


def store_exists(settings: StoreSettings, service: str, name: str = "views") -> bool:
    if settings.kind == "sqlite":
        return (Path(settings.data_dir) / service / f"{name}.sqlite").exists()
    with _admin(settings) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.dbname(service),)).fetchone() \
            is not None


def _admin(settings: StoreSettings, dbname: str = "postgres") -> psycopg.Connection[Any]:
    return psycopg.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                           password=settings.pg_password or None, dbname=dbname, autocommit=True)


def drop_store(settings: StoreSettings, target: str) -> None:
    """Remove the target's read-model store: its SQLite files, or its PostgreSQL database."""
    check_target(target)
    if settings.kind == "sqlite":
        base = Path(settings.data_dir) / target / "views.sqlite"
        for path in (base, *(base.with_name(base.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
            path.unlink(missing_ok=True)
        return
    with _admin(settings) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{settings.dbname(target)}" WITH (FORCE)')


def create_store(settings: StoreSettings, target: str) -> TrackedStore:
    """A new store for a rebuild. On PostgreSQL its database commits without waiting for the disk flush
    (synchronous_commit off, for its sessions only): a replay commits once per event, as the live consumer
    does, and a crash loses nothing that a new replay would not rebuild; the live stores are left as they are."""
    if settings.kind == "postgres":
        ensure_database(settings, target)
        with _admin(settings) as conn:
            conn.execute(f'ALTER DATABASE "{settings.dbname(target)}" SET synchronous_commit TO off')
    return TrackedStore(settings, target)


def analyse(settings: StoreSettings, target: str) -> None:
    """VACUUM ANALYZE a rebuilt PostgreSQL store (no-op on SQLite). A store filled in one go has no planner
    statistics until autovacuum comes round, and every page's first reader sets its hint bits, writing it: a
    district's roll-up read its dues with a bad plan and wrote 1,800 pages on its first queries. Not counted
    in the replay's events per second."""
    if settings.kind != "postgres":
        return
    with _admin(settings, settings.dbname(target)) as conn:
        conn.execute("VACUUM (ANALYZE)")


def http_last(sources: Mapping[str, str], timeout: float = 10.0,
              headers: Callable[[], dict[str, str]] = dict) -> Callable[[str], int | None]:
    """A source's highest notification id (`last` of its notification API): the progress bar's total."""

    def last(source: str) -> int | None:
        response = requests.get(f"{sources[source]}/notifications", params={"after": 0, "limit": 1}, timeout=timeout,
                                headers=headers())
        response.raise_for_status()
        value = response.json().get("last")
        return None if value is None else int(value)

    return last


def occurred_on(envelope: Envelope) -> dt.date:
    """The day the fact happened, in Việt Nam (a naive occurred_at is taken as UTC)."""
    at = envelope.occurred_at if envelope.occurred_at.tzinfo else envelope.occurred_at.replace(tzinfo=dt.UTC)
    return at.astimezone(VIETNAM).date()


def event_filter(as_of: dt.date | None, known_at: dt.datetime | None) -> Callable[[Envelope], bool]:
    """Whether a replay applies an event: occurred on or before `as_of` (Việt Nam date) and recorded at or
    before `known_at` (an aware instant; naive is taken as Việt Nam time)."""
    if known_at is not None and known_at.tzinfo is None:
        known_at = known_at.replace(tzinfo=VIETNAM)

    def keep(envelope: Envelope) -> bool:
        if as_of is not None and occurred_on(envelope) > as_of:
            return False
        if known_at is None:
            return True
        recorded = envelope.recorded_at if envelope.recorded_at.tzinfo else envelope.recorded_at.replace(tzinfo=dt.UTC)
        return recorded <= known_at

    return keep


@dataclass(frozen=True)
class ReplayResult:
    target: str
    positions: dict[str, int]
    applied: int  # events the projection applied
    skipped: int  # events left out by as_of / known_at (their positions are recorded all the same)
    dead_lettered: list[str]  # reasons, for events the projection kept rejecting (as live)
    seconds: float
    snapshot: Snapshot

    @property
    def events(self) -> int:
        return self.applied + self.skipped + len(self.dead_lettered)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class _Progress:
    """Progress of a replay: a tqdm bar per source on stderr (when enabled and a TTY), and always the
    chibo_replay_* metrics (shared/metrics.py), which `chibo replay --metrics-address` serves while it runs."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: Any = None
        self.source = ""

    def start(self, source: str, total: int | None) -> None:
        self.source = source
        metrics.REPLAY_RUNNING.set(1)
        metrics.REPLAY_POSITION.labels(source).set(0)
        metrics.REPLAY_TARGET.labels(source).set(total or 0)
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=source, unit=" sự kiện", file=sys.stderr, dynamic_ncols=True)

    def at(self, position: int) -> None:
        metrics.REPLAY_POSITION.labels(self.source).set(position)
        if self.bar is not None and position > self.bar.n:
            self.bar.update(position - self.bar.n)

    def finish(self, complete: bool) -> None:
        metrics.REPLAY_RUNNING.set(0)
        if self.bar is not None:
            if complete and self.bar.total is not None and self.bar.n < self.bar.total:
                self.bar.update(self.bar.total - self.bar.n)  # the tail of the log was unpublished events
            self.bar.close()
            self.bar = None


def rebuild(
    settings: ChiboSettings,
    *,
    target: str = "reporting_replay",
    upto: Mapping[str, int] | None = None,
    as_of: dt.date | None = None,
    known_at: dt.datetime | None = None,
    progress: bool = True,
    fetch_range: FetchRange | None = None,
    ddl: Sequence[Statement] | None = None,
    project: Project | None = None,
    tables: Mapping[str, Sequence[str]] | None = None,
    sources: Sequence[str] = SOURCES,
    last: Callable[[str], int | None] | None = None,
    headers: Callable[[], dict[str, str]] = dict,
    batch: int = 1,
    ahead: bool = False,
) -> ReplayResult:
    """Drop `target` and rebuild it from position 0 of each source's log (up to `upto[source]` when given),
    read with `headers()` (the operator's credential).

    Events left out by `as_of`/`known_at` still have their position recorded (in a transaction that writes
    nothing else): the store's positions then say how far each log was read, as the live store's do, and a
    snapshot of it is comparable with one of another replay over the same positions and filter.

    `batch` > 1: up to that many events of a source in one transaction, recording the last one's position
    (with the default projection, each meeting and member-year recounted once per batch: project_many); a
    batch the projection refuses is rolled back and applied again one event per transaction, as the live
    consumer does, so dead-lettering is the same. The tables are the same either way (tests/unit/test_replay.py).

    `ahead` (with `batch` > 1): the logs are read in a forked child process while this one projects, the two on
    two cores (shared/readahead.py).

    With the default schema, the indexes only queries use (`schema.QUERY_INDEXES`) are built after the last
    event, inside the timed part: once each from the loaded rows, not updated at every row; so are the counts
    the database keeps (`schema.KEPT_COUNTS`: filled from the loaded rows, then their triggers made).
    """
    check_target(target)
    project_many: ProjectMany | None = None
    after_load: Sequence[Statement] = ()
    if ddl is None or project is None or tables is None:
        default = default_projection()
        if ddl is None:
            after_load = default.after_load
            ddl = [s for s in default.ddl if s not in after_load]
        project_many = default.project_many if project is None else None
        project = default.project if project is None else project
        tables = default.tables if tables is None else tables
    fetch = fetch_range or http_fetch_range(settings.sources, headers=headers)
    total_of = last or (http_last(settings.sources, headers=headers) if fetch_range is None else (lambda source: None))
    keep = event_filter(as_of, known_at)
    counts = {"applied": 0, "skipped": 0}
    bar = _Progress(progress)

    def filtered(sql: Sql, envelope: Envelope, payload: Payload) -> None:
        if keep(envelope):
            project(sql, envelope, payload)
            counts["applied"] += 1
            metrics.REPLAY_EVENTS.labels(envelope.source, "applied").inc()
        else:
            counts["skipped"] += 1
            metrics.REPLAY_EVENTS.labels(envelope.source, "skipped").inc()
        bar.at(envelope.position)

    def bounded(source: str, after: int, before: int) -> Iterable[dict[str, Any]]:
        if upto is not None:
            before = min(before, upto.get(source, 0) + 1)
        return fetch(source, after, before)

    dead: list[str] = []
    started = time.perf_counter()
    drop_store(settings.store, target)
    store = create_store(settings.store, target)
    try:
        store.create_tables(ddl)

        def applier() -> TrackedApplier:  # a new one asks the store for its position (batches moved it)
            return TrackedApplier(f"replay:{target}", store, filtered, bounded,
                                  dead_letter=lambda body, reason: dead.append(reason),
                                  max_tries=settings.max_tries)

        def batched(source: str) -> None:
            chunk: list[tuple[Envelope, Payload]] = []

            def flush() -> None:
                kept = [(e, p) for e, p in chunk if keep(e)]
                try:
                    with store.tracked(source, chunk[-1][0].position) as sql:
                        if project_many is not None:
                            project_many(sql, kept)
                        else:
                            for envelope, payload in kept:
                                project(sql, envelope, payload)  # type: ignore[misc]
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    one_by_one = applier()
                    for envelope, payload in chunk:
                        one_by_one.handle(envelope, payload)
                else:
                    counts["applied"] += len(kept)
                    counts["skipped"] += len(chunk) - len(kept)
                    metrics.REPLAY_EVENTS.labels(source, "applied").inc(len(kept))
                    metrics.REPLAY_EVENTS.labels(source, "skipped").inc(len(chunk) - len(kept))
                bar.at(chunk[-1][0].position)
                chunk.clear()

            after = store.position(source)
            logs = read_ahead(lambda: bounded(source, after, 2**62)) if ahead else bounded(source, after, 2**62)
            for data in logs:
                chunk.append(parse_event(data))
                if len(chunk) >= batch:
                    flush()
            if chunk:
                flush()

        one_at_a_time = applier()  # creates dead_letters, whether any event is refused or not
        # Members first, then meetings: any order is a valid one, because the live consumers of the two sources
        # run independently and may see any interleaving of them (a meeting before the member who attends it
        # has reached reporting, or the reverse); every projection step must tolerate that, so whole logs one
        # after the other is just one more interleaving, and the simplest to resume and to reason about.
        for source in sources:
            if upto is not None and upto.get(source, 0) == 0:
                continue
            total = total_of(source)
            bar.start(source, min(total, upto[source]) if upto is not None and total is not None else total)
            try:
                if batch > 1:
                    batched(source)
                else:
                    one_at_a_time.catch_up(source)
            except BaseException:
                bar.finish(complete=False)
                raise
            bar.finish(complete=True)
        store.create_tables(after_load)  # query indexes and kept counts, built once from the loaded rows (timed)
        seconds = time.perf_counter() - started
        analyse(settings.store, target)
        snap = snapshot(store, tables, sources)
    finally:
        store.close()
    return ReplayResult(target, snap.positions, counts["applied"], counts["skipped"], dead, seconds, snap)


# -- verify --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableCheck:
    table: str
    equal: bool
    live_digest: str
    replay_digest: str
    live_rows: int
    replay_rows: int


@dataclass(frozen=True)
class Verification:
    live: Snapshot
    replay: ReplayResult
    tables: list[TableCheck] = field(default_factory=list)

    @property
    def positions_equal(self) -> bool:
        return self.live.positions == self.replay.positions

    @property
    def ok(self) -> bool:
        return self.positions_equal and all(t.equal for t in self.tables)


def verify(settings: ChiboSettings, *, target: str = "reporting_replay", live: str = LIVE, progress: bool = True,
           fetch_range: FetchRange | None = None, ddl: Sequence[Statement] | None = None,
           project: Project | None = None,
           tables: Mapping[str, Sequence[str]] | None = None, sources: Sequence[str] = SOURCES,
           last: Callable[[str], int | None] | None = None,
           headers: Callable[[], dict[str, str]] = dict, batch: int = 1, ahead: bool = False) -> Verification:
    """Snapshot the live store, rebuild `target` up to exactly its positions (`batch`, `ahead`: as `rebuild`),
    and compare table by table."""
    check_target(target)
    if not store_exists(settings.store, live):
        raise ReplayError(f"no live {live} store ({_where(settings.store, live)})",
                          f"không có kho {live} đang chạy ({_where(settings.store, live)})")
    tables = default_projection().tables if tables is None else tables
    store = TrackedStore(settings.store, live)
    try:
        live_snap = snapshot(store, tables, sources)
    finally:
        store.close()
    result = rebuild(settings, target=target, upto=live_snap.positions, progress=progress, fetch_range=fetch_range,
                     ddl=ddl, project=project, tables=tables, sources=sources, last=last, headers=headers,
                     batch=batch, ahead=ahead)
    replay_snap = result.snapshot
    checks = [
        TableCheck(t, live_snap.digests[t] == replay_snap.digests.get(t), live_snap.digests[t],
                   replay_snap.digests.get(t, ""), live_snap.rows[t], replay_snap.rows.get(t, 0))
        for t in sorted(set(live_snap.digests) | set(replay_snap.digests)) if t in live_snap.digests
    ]
    checks += [TableCheck(t, False, "", replay_snap.digests[t], 0, replay_snap.rows[t])
               for t in sorted(set(replay_snap.digests) - set(live_snap.digests))]
    return Verification(live_snap, result, checks)


def _where(settings: StoreSettings, service: str) -> str:
    if settings.kind == "sqlite":
        return str(Path(settings.data_dir) / service / "views.sqlite")
    return f"PostgreSQL database {settings.dbname(service)} on {settings.pg_host}:{settings.pg_port}"


# -- the report on an as-of store ----------------------------------------------------------------------------


def report_as_of(store: TrackedStore, as_of: dt.date, lang: str = "vi") -> str:
    """The report on an as-of store: the year's roll-up by block, as the reporting service answers it on that
    date (what was known of the year up to the as-of date), with the report's sentences."""
    from services.reporting.compliance.wording import format_rollup
    from services.reporting.queries import Queries

    with store.read() as sql:
        queries = Queries(sql, as_of)
        if not queries.tree.units:
            return ("Chưa có đơn vị nào được ghi nhận đến ngày này." if lang == "vi"
                    else "No unit was recorded by that date.")
        result = queries.rollup({"period": str(as_of.year), "by": "block"}, lang)
    day = as_of.strftime("%d/%m/%Y") if lang == "vi" else as_of.isoformat()
    heading = f"Tính đến hết ngày {day}" if lang == "vi" else f"As of {day}"
    return f"{heading}\n{format_rollup(result, lang)}"


def iter_lines(verification: Verification, lang: str = "vi") -> Iterator[str]:
    """The verification as a table: table, rows, live digest, replay digest, equal/KHÁC; then the totals."""
    vi = lang == "vi"
    header = ("Bảng", "Số dòng", "Bản sống", "Bản dựng lại", "Kết quả") if vi else \
        ("Table", "Rows", "Live", "Replay", "Result")
    cells = [(t.table, str(t.live_rows) if t.live_rows == t.replay_rows else f"{t.live_rows}≠{t.replay_rows}",
              t.live_digest[:12], t.replay_digest[:12], ("bằng" if vi else "equal") if t.equal else "KHÁC")
             for t in verification.tables]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths), *cells]:
        yield "  ".join(f"{v:>{w}}" if i == 1 else f"{v:<{w}}"
                        for i, (v, w) in enumerate(zip(row, widths, strict=True))).rstrip()
    r = verification.replay
    positions = ", ".join(f"{s} {p}" for s, p in verification.live.positions.items())
    if not verification.positions_equal:
        got = ", ".join(f"{s} {p}" for s, p in r.positions.items())
        yield (f"Vị trí KHÁC: bản sống {positions}, bản dựng lại {got}" if vi
               else f"Positions DIFFER: live {positions}, replay {got}")
    rate = f"{r.events_per_second:.0f}"
    secs = f"{r.seconds:.1f}"
    yield (f"{r.events} sự kiện (vị trí {positions}) dựng lại trong {secs.replace('.', ',')} giây, {rate} sự kiện/giây"
           if vi else f"{r.events} events (positions {positions}) replayed in {secs}s, {rate} events/s")
    if r.dead_lettered:
        yield (f"{len(r.dead_lettered)} sự kiện bị từ chối (dead letter), như bản sống phải có" if vi
               else f"{len(r.dead_lettered)} events dead-lettered, as the live store must have")


def summary(result: ReplayResult, lang: str = "vi") -> str:
    """One line on a rebuild: the store, the events applied and left out, the speed."""
    secs = f"{result.seconds:.1f}"
    positions = ", ".join(f"{s} {p}" for s, p in result.positions.items())
    if lang == "vi":
        return (f"Kho {result.target}: {result.applied} sự kiện áp dụng, {result.skipped} bỏ qua (sau mốc thời gian), "
                f"vị trí {positions}; {secs.replace('.', ',')} giây, {result.events_per_second:.0f} sự kiện/giây")
    return (f"Store {result.target}: {result.applied} events applied, {result.skipped} left out (after the cut-off), "
            f"positions {positions}; {secs}s, {result.events_per_second:.0f} events/s")
