"""Tamper evidence for a service's event store: a hash chain over the stored events, with checkpoints.

The chain: h_0 = sha256(b"chibo-audit-v1:" + service), h_n = sha256(h_{n-1} || canonical bytes of the n-th
stored event in notification order). The canonical bytes are the notification id and the row exactly as
eventsourcing stored it (originator id, version, topic, state bytes, each length-prefixed), never the
decrypted event: shredding a member's key later (which only makes the state undecryptable) changes nothing.

A checkpoint (`record_checkpoint`) first verifies what earlier checkpoints covered, then records the head
(position = the last notification id, the number of events, the chain hash) and, for each newly covered
event, a digest of its row and of its state bytes. Those per-event digests are what let `verify` name the
FIRST position that differs and say how: modified (same id, other bytes), deleted (a recorded id missing),
inserted (an id that was not there when checkpointed) or reordered (bytes recorded at another position).
The chain is anchored on the ids actually present at checkpoint time, so PostgreSQL's legitimate holes in
notification ids (rolled-back sequence values) are never taken for deletions.

Where the checkpoints live: a separate `audit` store (PostgreSQL database `<prefix>_audit`, SQLite file
`<data_dir>/audit/checkpoints.sqlite`), not beside the events: a different database can be given to
different credentials, so a service's own database role (or someone holding it) cannot rewrite both. What
they do NOT protect against: someone who can write both stores can recompute every digest and hash. The
head hash `chibo audit checkpoint` prints should therefore also be kept elsewhere (signed minutes, an
e-mail to the committee, a ticket); a later verify prints the same hash for that position while intact.
Events appended after the last checkpoint are not covered until the next checkpoint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from shared.config import StoreSettings
from shared.stores import TrackedStore

GENESIS_PREFIX = b"chibo-audit-v1:"
PAGE = 1000

AUDIT_TABLES = (
    "CREATE TABLE IF NOT EXISTS audit_checkpoints (service TEXT NOT NULL, position BIGINT NOT NULL, "
    "events BIGINT NOT NULL, hash TEXT NOT NULL, recorded_at TEXT NOT NULL, PRIMARY KEY (service, position))",
    "CREATE TABLE IF NOT EXISTS audit_digests (service TEXT NOT NULL, position BIGINT NOT NULL, "
    "digest TEXT NOT NULL, state_digest TEXT NOT NULL, PRIMARY KEY (service, position))",
    "CREATE INDEX IF NOT EXISTS audit_digests_by_digest ON audit_digests (service, digest)",
    "CREATE INDEX IF NOT EXISTS audit_digests_by_state ON audit_digests (service, state_digest)",
)


class AuditError(Exception):
    """The audit could not run (store missing or unreadable): exit 2, not a finding."""

    def __init__(self, vi: str, en: str):
        super().__init__(en)
        self.vi, self.en = vi, en

    def message_in(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class StoredRow:
    """One row of the events table, as stored."""

    position: int  # notification id
    originator_id: str
    originator_version: int
    topic: str
    state: bytes

    @functools.cached_property
    def content(self) -> bytes:
        """The row without its notification id, length-prefixed field by field (computed once per row)."""
        return (_field(self.originator_id.encode()) + self.originator_version.to_bytes(8, "big", signed=True)
                + _field(self.topic.encode()) + _field(self.state))

    def canonical(self) -> bytes:
        return self.position.to_bytes(8, "big", signed=True) + self.content

    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def state_digest(self) -> str:
        return hashlib.sha256(self.state).hexdigest()


def genesis(service: str) -> bytes:
    return hashlib.sha256(GENESIS_PREFIX + service.encode()).digest()


def link(previous: bytes, row: StoredRow) -> bytes:
    return hashlib.sha256(previous + row.canonical()).digest()


def events_table(settings: StoreSettings, service: str) -> str:
    """eventsourcing's events table: `stored_events` in its own SQLite file; `<application name>_events` on
    PostgreSQL (the application's name is the service's: MembersApplication.name == "members")."""
    return "stored_events" if settings.kind == "sqlite" else f"{service}_events"


def iter_stored(settings: StoreSettings, service: str, page: int = PAGE) -> Iterator[StoredRow]:
    """The service's stored events in notification order, read page by page (read-only, no eventsourcing)."""
    if settings.kind == "sqlite":
        path = Path(settings.data_dir) / service / "events.sqlite"
        if not path.exists():
            raise AuditError(f"không có kho sự kiện của {service}: {path}", f"no event store for {service}: {path}")
        conn: Any = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        select = ("SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
                  "WHERE rowid > ? ORDER BY rowid LIMIT ?")
    else:
        try:
            conn = psycopg.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                                   password=settings.pg_password or None, dbname=settings.dbname(service))
        except psycopg.OperationalError as exc:
            raise AuditError(f"không mở được kho sự kiện {settings.dbname(service)}: {exc}",
                             f"cannot open the event store {settings.dbname(service)}: {exc}") from exc
        select = (f"SELECT notification_id, originator_id::text, originator_version, topic, state "
                  f"FROM public.{events_table(settings, service)} WHERE notification_id > %s "
                  "ORDER BY notification_id LIMIT %s")
    try:
        after = 0
        while True:
            try:
                rows = conn.execute(select, (after, page)).fetchall()
            except (sqlite3.OperationalError, psycopg.errors.UndefinedTable) as exc:
                raise AuditError(f"kho của {service} không có bảng sự kiện ({exc})",
                                 f"{service}'s store has no events table ({exc})") from exc
            for position, originator_id, version, topic, state in rows:
                yield StoredRow(int(position), str(originator_id), int(version), str(topic), bytes(state))
            if len(rows) < page:
                return
            after = int(rows[-1][0])
            if settings.kind == "postgres":
                conn.rollback()  # one short transaction per page: no snapshot held across a long read
    finally:
        conn.close()


@dataclass(frozen=True)
class Checkpoint:
    position: int
    events: int
    hash: str
    recorded_at: str


@dataclass(frozen=True)
class Finding:
    """The first divergence. kind: modified | deleted | inserted | reordered | checkpoint."""

    kind: str
    position: int
    other: int | None = None  # reordered: where these bytes were recorded


@dataclass
class Verification:
    service: str
    events: int = 0
    head_position: int = 0
    head_hash: str = ""
    checkpoints: list[Checkpoint] = field(default_factory=list)
    finding: Finding | None = None
    uncovered: int = 0  # events after the last checkpoint

    @property
    def ok(self) -> bool:
        return self.finding is None

    @property
    def covered_position(self) -> int:
        return self.checkpoints[-1].position if self.checkpoints else 0


class AuditStore:
    """The checkpoints and per-event digests, in the separate `audit` store (see the module docstring)."""

    def __init__(self, settings: StoreSettings):
        self.store = TrackedStore(settings, "audit", "checkpoints")
        self.store.create_tables(AUDIT_TABLES)

    def checkpoints(self, service: str) -> list[Checkpoint]:
        with self.store.read() as sql:
            rows = sql.execute("SELECT position, events, hash, recorded_at FROM audit_checkpoints "
                               "WHERE service = ? ORDER BY position", (service,)).fetchall()
        return [Checkpoint(*_values(r, ("position", "events", "hash", "recorded_at"))) for r in rows]

    def digests(self, service: str, page: int = PAGE) -> Iterator[tuple[int, str]]:
        after = 0
        while True:
            with self.store.read() as sql:
                rows = [_values(r, ("position", "digest")) for r in sql.execute(
                    "SELECT position, digest FROM audit_digests WHERE service = ? AND position > ? "
                    "ORDER BY position LIMIT ?", (service, after, page)).fetchall()]
            yield from ((int(p), d) for p, d in rows)
            if len(rows) < page:
                return
            after = int(rows[-1][0])

    def recorded_elsewhere(self, service: str, row: StoredRow) -> int | None:
        """Another position whose recorded row or state bytes are this row's (a sign of reordering)."""
        with self.store.read() as sql:
            found = sql.execute("SELECT position FROM audit_digests WHERE service = ? AND position <> ? "
                                "AND (digest = ? OR state_digest = ?) ORDER BY position LIMIT 1",
                                (service, row.position, row.digest(), row.state_digest())).fetchone()
        return None if found is None else int(_values(found, ("position",))[0])

    def record(self, service: str, new_rows: list[tuple[int, str, str]], checkpoint: Checkpoint) -> None:
        """The digests (position, digest, state digest) of the newly covered events, and the checkpoint."""
        with self.store.write() as sql:
            for start in range(0, len(new_rows), PAGE):
                sql.executemany("INSERT INTO audit_digests (service, position, digest, state_digest) "
                                "VALUES (?, ?, ?, ?)", [(service, *r) for r in new_rows[start:start + PAGE]])
            sql.execute("INSERT INTO audit_checkpoints (service, position, events, hash, recorded_at) "
                        "VALUES (?, ?, ?, ?, ?)", (service, checkpoint.position, checkpoint.events,
                                                   checkpoint.hash, checkpoint.recorded_at))
        if self.store.postgres:  # fresh statistics, or verify's page reads sort the whole table each time
            with self.store.write() as sql:
                sql.execute("ANALYZE audit_digests")

    def close(self) -> None:
        self.store.close()


def _values(row: Any, keys: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(row[k] for k in keys) if hasattr(row, "keys") else tuple(row)


def _mismatch(audit: AuditStore, service: str, row: StoredRow, recorded: str,
              following: StoredRow | None) -> Finding:
    """What happened at a position whose bytes are not the recorded ones."""
    other = audit.recorded_elsewhere(service, row)
    if other is not None:
        return Finding("reordered", row.position, other)
    if following is not None and following.digest() == recorded:
        return Finding("inserted", row.position)  # a forged row here, the later ids renumbered up by one
    return Finding("modified", row.position)


def _verify(settings: StoreSettings, service: str, audit: AuditStore,
            collect: list[tuple[int, str, str]] | None = None) -> Verification:
    """One streaming pass: recompute the chain, compare with the checkpoints and the recorded digests."""
    result = Verification(service, checkpoints=audit.checkpoints(service))
    covered = result.covered_position
    pending = iter(result.checkpoints)
    next_cp = next(pending, None)
    recorded = audit.digests(service)
    rec = next(recorded, None)
    chain = genesis(service)

    def found(finding: Finding) -> None:
        current = result.finding
        if current is None or finding.position < current.position or (
                finding.position == current.position and current.kind == "checkpoint"):
            result.finding = finding  # the first position; at one position, what happened over "a hash differs"

    def compare_checkpoints(before: int | None) -> None:
        nonlocal next_cp
        while next_cp is not None and (before is None or next_cp.position < before):
            if chain.hex() != next_cp.hash or result.events != next_cp.events:
                found(Finding("checkpoint", next_cp.position))
            next_cp = next(pending, None)

    stored = iter_stored(settings, service)
    following = next(stored, None)
    while following is not None:
        row, following = following, next(stored, None)  # one row of look-ahead, to tell an insertion
        compare_checkpoints(row.position)
        if row.position <= covered and result.finding is None:
            while rec is not None and rec[0] < row.position:
                found(Finding("deleted", rec[0]))
                rec = next(recorded, None)
            if rec is None or rec[0] > row.position:
                found(Finding("inserted", row.position))
            else:
                if rec[1] != row.digest():
                    found(_mismatch(audit, service, row, rec[1], following))
                rec = next(recorded, None)
        elif row.position > covered:
            result.uncovered += 1
            if collect is not None:  # digests only: a first checkpoint of a large store keeps no state bytes
                collect.append((row.position, row.digest(), row.state_digest()))
        chain = link(chain, row)
        result.events += 1
        result.head_position = row.position
    compare_checkpoints(None)
    if rec is not None:
        found(Finding("deleted", rec[0]))  # recorded rows past the last one still stored
    result.head_hash = chain.hex()
    return result


def _open_audit(settings: StoreSettings, service: str) -> AuditStore:
    """The audit store, once the event store is known to be readable (no audit database for a wrong config)."""
    with contextlib.closing(iter_stored(settings, service, page=1)) as probe:
        next(probe, None)
    return AuditStore(settings)


def verify(settings: StoreSettings, service: str) -> Verification:
    audit = _open_audit(settings, service)
    try:
        return _verify(settings, service, audit)
    finally:
        audit.close()


def record_checkpoint(settings: StoreSettings, service: str) -> tuple[Verification, bool]:
    """Verify, then (only when intact) record the current head. Returns (verification, recorded?)."""
    audit = _open_audit(settings, service)
    try:
        new_rows: list[tuple[int, str, str]] = []
        result = _verify(settings, service, audit, collect=new_rows)
        if not result.ok or not new_rows:
            return result, False
        recorded_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        checkpoint = Checkpoint(result.head_position, result.events, result.head_hash, recorded_at)
        audit.record(service, new_rows, checkpoint)
        result.checkpoints.append(checkpoint)
        result.uncovered = 0
        return result, True
    finally:
        audit.close()


_KINDS = {
    "modified": ("sự kiện ở vị trí {p} đã bị sửa (cùng số thứ tự, nội dung lưu khác)",
                 "the event at position {p} was modified (same notification id, different stored bytes)"),
    "deleted": ("sự kiện ở vị trí {p} đã bị xoá", "the event at position {p} was deleted"),
    "inserted": ("có sự kiện bị chèn ở vị trí {p} (không có lúc ghi điểm kiểm tra)",
                 "an event was inserted at position {p} (not there when checkpointed)"),
    "reordered": ("thứ tự bị đảo: nội dung ở vị trí {p} vốn được ghi ở vị trí {o}",
                  "reordered: the bytes at position {p} were recorded at position {o}"),
    "checkpoint": ("chuỗi băm không khớp điểm kiểm tra ở vị trí {p} (bản ghi kiểm toán bị sửa?)",
                   "the hash chain does not match the checkpoint at position {p} (audit records altered?)"),
}


def describe(result: Verification, lang: str = "vi") -> list[str]:
    """The verification in a few lines, Vietnamese by default."""
    vi = lang == "vi"
    s = result.service
    lines = []
    if result.finding is not None:
        f = result.finding
        text = _KINDS[f.kind][0 if vi else 1].format(p=f.position, o=f.other)
        lines.append(f"{s}: BỊ SỬA ĐỔI — {text}" if vi else f"{s}: TAMPERED — {text}")
    elif not result.checkpoints:
        lines.append(f"{s}: chưa có điểm kiểm tra nào; chạy `chibo audit checkpoint`" if vi
                     else f"{s}: no checkpoint yet; run `chibo audit checkpoint`")
    else:
        n = len(result.checkpoints)
        plural = "s" if n > 1 else ""
        lines.append(f"{s}: nguyên vẹn đến vị trí {result.covered_position} ({n} điểm kiểm tra)" if vi
                     else f"{s}: intact up to position {result.covered_position} ({n} checkpoint{plural})")
    lines.append(f"{s}: {result.events} sự kiện, đầu chuỗi {result.head_position} băm {result.head_hash}" if vi
                 else f"{s}: {result.events} events, head {result.head_position} hash {result.head_hash}")
    if result.uncovered and result.checkpoints:
        lines.append(f"{s}: {result.uncovered} sự kiện sau điểm kiểm tra cuối chưa được bảo vệ" if vi
                     else f"{s}: {result.uncovered} events after the last checkpoint are not covered yet")
    return lines
