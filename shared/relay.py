"""The transactional outbox relay.

A service stores its domain events with eventsourcing; the store's notification log orders them. The relay
reads the log after the last position it recorded, maps each domain event to an integration event
(service-specific `translate`), publishes with publisher confirms, persistent delivery and
`mandatory=True`, and only then records the new position. A crash between publishing and recording
republishes the same envelopes (same event_id, same positions): delivery is at least once, and the tracked
consumers make it exactly once. Commands never publish: the broker can be down without losing a command.

Exactly one relay may publish a source: `relay_lock` holds a PostgreSQL advisory lock (or a file lock for
SQLite) for as long as the relay runs; a standby blocks on it and takes over when the active one dies. The lock
is a database session, which can die on its own (a terminated backend, a network cut to PostgreSQL): before
each batch it publishes, the relay asks whether its session still holds the lock, and when it does not it stops
publishing and goes back to waiting on the lock, as a standby does (`run_guarded`). A batch already in flight
when the lock was lost may be published again by the new holder: at least once, which the consumers dedupe.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kombu import Connection, Producer

from shared import metrics, topology
from shared.config import StoreSettings
from shared.confirms import ConfirmTracker, publish_confirmed
from shared.contracts import Envelope, Payload, event_id_for, make_envelope
from shared.stores import TrackedStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Translated:
    payload: Payload
    occurred_at: datetime


# A service's mapping from one of its domain events to an integration event; None = not published.
Translate = Callable[[Any], Translated | None]


class EnvelopeReader:
    """Reads an eventsourcing application's notification log as integration-event envelopes."""

    def __init__(self, source: str, app: Any, translate: Translate):
        self.source = source
        self.app = app
        self.translate = translate

    def read(self, after: int, limit: int) -> tuple[list[tuple[int, Envelope | None]], int]:
        """Envelopes after `after` (None for unpublished events), and the last position scanned."""
        notifications = self.app.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        out: list[tuple[int, Envelope | None]] = []
        for n in notifications:
            event = self.app.mapper.to_domain_event(n)
            translated = self.translate(event)
            out.append((n.id, None if translated is None else self._envelope(n.id, event, translated)))
        return out, (notifications[-1].id if notifications else after)

    def _envelope(self, position: int, event: Any, t: Translated) -> Envelope:
        return make_envelope(
            t.payload,
            event_id=event_id_for(self.source, event.originator_id, event.originator_version),
            source=self.source,
            position=position,
            stream_id=event.originator_id,
            stream_version=event.originator_version,
            occurred_at=t.occurred_at,
            recorded_at=event.timestamp,
            recorded_by=event.recorded_by,
            org_path=[str(p) for p in getattr(event, "org_path", []) or []],
            correlation_id=getattr(event, "correlation_id", None),
        )

    def page(self, after: int, limit: int) -> list[Envelope]:
        """The published envelopes after `after` (the notification API); holes are skipped."""
        items: list[Envelope] = []
        while len(items) < limit:
            # only as many as the page still lacks: a full `limit` again decoded notifications past the page's
            # end, which were cut off here and decoded again for the next page (nearly half a replay's reading)
            batch, last = self.read(after, limit - len(items))
            items.extend(e for _, e in batch if e is not None)
            if last == after:
                break
            after = last
        return items


class Publisher:
    """Publishes envelopes to `<source>.events` with confirms, persistence and mandatory routing.

    On RabbitMQ a batch is published with batched confirms (shared/confirms.py): every envelope is written,
    then the broker's acks are collected once. `batch_confirms=False` (and the in-memory transport, which has
    no confirms to batch) publishes through kombu with `confirm_publish`, waiting for each message's ack."""

    def __init__(self, amqp_uri: str, source: str, transport_options: dict[str, Any] | None = None,
                 batch_confirms: bool = True, confirm_timeout: float = topology.IO_TIMEOUT):
        self.amqp_uri = amqp_uri
        self.transport_options = topology.publisher_options(amqp_uri, transport_options)
        self.exchange = topology.events_exchange(source)
        self.batch_confirms = batch_confirms and not topology.is_memory(amqp_uri)
        self.confirm_timeout = confirm_timeout
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._tracker: ConfirmTracker | None = None

    def _ensure(self) -> Producer:
        if self._producer is None:
            options = dict(self.transport_options)
            if self.batch_confirms:  # the channel is put in confirm mode by ConfirmTracker, not per publish
                options.pop("confirm_publish")
            self._connection = Connection(self.amqp_uri, transport_options=options, connect_timeout=5)
            self._producer = Producer(self._connection.channel(), exchange=self.exchange)
            self.exchange(self._producer.channel).declare()
            if self.batch_confirms:
                self._tracker = ConfirmTracker(self._producer.channel)
        return self._producer

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Return only when the broker confirmed every envelope; raise (and drop the connection) otherwise."""
        try:
            producer = self._ensure()
            if self._tracker is not None:
                self._publish_batch(producer, envelopes)
                return
            for env in envelopes:
                # With confirm_publish, py-amqp waits for the broker's ack, and raises on basic.return
                # (mandatory and unroutable) or nack.
                producer.publish(self._body(env), routing_key=env.type, mandatory=True, retry=False,
                                 **self._properties(env))
        except Exception:
            self.close()
            raise

    def _publish_batch(self, producer: Producer, envelopes: Sequence[Envelope]) -> None:
        assert self._connection is not None and self._tracker is not None
        channel = producer.channel
        messages = []
        for env in envelopes:
            properties = self._properties(env)
            message = channel.prepare_message(
                self._body(env).encode(), content_type=properties.pop("content_type"),
                content_encoding=properties.pop("content_encoding"), headers=properties.pop("headers"),
                properties=properties,
            )
            messages.append((message, self.exchange.name, env.type))
        publish_confirmed(self._connection.connection, self._tracker, messages, self.confirm_timeout)

    @staticmethod
    def _body(env: Envelope) -> str:
        return json.dumps(env.to_json(), ensure_ascii=False)

    @staticmethod
    def _properties(env: Envelope) -> dict[str, Any]:
        """The same properties on both paths: persistent, JSON, the event id as message_id, provenance headers."""
        return {
            "delivery_mode": 2,
            "content_type": "application/json",
            "content_encoding": "utf-8",
            "message_id": str(env.event_id),
            "headers": {"chibo-source": env.source, "chibo-position": env.position},
        }

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
        self._connection = None
        self._producer = None
        self._tracker = None


RELAY_STATE_DDL = (
    "CREATE TABLE IF NOT EXISTS relay_state (source TEXT PRIMARY KEY, last_published BIGINT NOT NULL)",
)


class LockLost(Exception):
    """The relay's single-active lock is no longer held by its session: it must stop publishing."""


class OutboxRelay:
    def __init__(
        self,
        reader: EnvelopeReader,
        publisher: Publisher,
        state: TrackedStore,
        batch_size: int = 500,
        after_publish: Callable[[], None] | None = None,
    ):
        self.reader = reader
        self.publisher = publisher
        self.state = state
        self.batch_size = batch_size
        # Fault injection point for tests: runs after the broker confirmed, before the position is saved.
        self.after_publish = after_publish
        self.key = f"relay:{reader.source}"
        state.create_tables(RELAY_STATE_DDL)

    def positions(self) -> tuple[int, int]:
        """(last notification scanned, last position published)."""
        with self.state.read() as sql:
            last_published = sql.scalar(
                "SELECT last_published FROM relay_state WHERE source = ?", (self.reader.source,)
            )
        return self.state.position(self.key), int(last_published or 0)

    def run_once(self, holds_lock: Callable[[], bool] | None = None) -> int:
        """Publish the next batch; return how many envelopes were published.

        `holds_lock()` is asked right before publishing; when it says no, LockLost is raised and nothing is
        published or recorded."""
        scanned, previous = self.positions()
        metrics.RELAY_POSITION.labels(self.reader.source).set(scanned)
        batch, last = self.reader.read(scanned, self.batch_size)
        self._backlog(last if batch else scanned)
        if not batch:
            return 0
        envelopes = []
        for position, env in batch:
            if env is not None:
                envelopes.append(env.model_copy(update={"previous_position": previous}))
                previous = position
        if envelopes:
            if holds_lock is not None and not holds_lock():
                raise LockLost(self.reader.source)
            self.publisher.publish(envelopes)
            for env in envelopes:
                metrics.EVENTS_PUBLISHED.labels(env.source, env.type).inc()
        if self.after_publish is not None:
            self.after_publish()
        with self.state.tracked(self.key, last) as sql:
            sql.execute(
                "INSERT INTO relay_state (source, last_published) VALUES (?, ?) "
                "ON CONFLICT (source) DO UPDATE SET last_published = excluded.last_published",
                (self.reader.source, previous),
            )
        metrics.RELAY_POSITION.labels(self.reader.source).set(last)
        return len(envelopes)

    def _backlog(self, upto: int) -> None:
        """The outbox backlog: notifications recorded beyond what this batch reaches."""
        head = self.reader.app.recorder.max_notification_id() or 0
        metrics.OUTBOX_BACKLOG.labels(self.reader.source).set(max(0, head - upto))

    def run(self, stop: threading.Event, wake: threading.Event | None = None, poll: float = 0.2,
            holds_lock: Callable[[], bool] | None = None) -> bool:
        """Publish until `stop` is set; sleep `poll` seconds when idle (or until `wake` is set).

        Returns False when it stopped because `holds_lock()` said the lock was lost, True when `stop` was set."""
        backoff = poll
        while not stop.is_set():
            try:
                published = self.run_once(holds_lock)
                backoff = poll
            except LockLost:
                log.error("relay %s: the single-active lock was lost (its database session ended); "
                          "stopping publishing and waiting for the lock again", self.reader.source)
                metrics.RELAY_LOCK_LOST.labels(self.reader.source).inc()
                self.publisher.close()
                return False
            except Exception as exc:  # broker or database down: keep the position, retry later
                log.warning("relay %s: %s; retrying in %.1fs", self.reader.source, exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if published == 0:
                if wake is not None:
                    wake.wait(poll)
                    wake.clear()
                else:
                    stop.wait(poll)
        self.publisher.close()
        return True

    def run_guarded(self, settings: StoreSettings, stop: threading.Event, wake: threading.Event | None = None,
                    poll: float = 0.2, on_active: Callable[[], None] | None = None) -> None:
        """Wait for the source's lock, publish while it is held; when it is lost, wait for it again."""
        while not stop.is_set():
            with relay_lock(settings, self.reader.source, stop) as lock:
                if not lock:
                    return
                metrics.RELAY_ACTIVE.labels(self.reader.source).set(1)
                if on_active is not None:
                    on_active()
                try:
                    if self.run(stop, wake, poll, holds_lock=lock.held):
                        return
                finally:
                    metrics.RELAY_ACTIVE.labels(self.reader.source).set(0)
            stop.wait(1.0)  # the lost session's lock may still show as held for a moment


def _until_acquired(try_acquire: Callable[[], bool], stop: threading.Event | None) -> bool:
    """Retry `try_acquire` every second; False when `stop` is set first (a standby told to give up)."""
    while not try_acquire():
        if stop is None:
            time.sleep(1.0)
        elif stop.wait(1.0):
            return False
    return True


class RelayLock:
    """The outcome of `relay_lock`: true when acquired; `held()` asks whether it is still held."""

    def __init__(self, acquired: bool, held: Callable[[], bool]):
        self.acquired = acquired
        self._held = held

    def __bool__(self) -> bool:
        return self.acquired

    def held(self) -> bool:
        if not self.acquired:
            return False
        try:
            return self._held()
        except Exception as exc:  # the session is gone: so is the lock
            log.warning("relay lock check failed: %s", exc)
            return False


@contextlib.contextmanager
def relay_lock(settings: StoreSettings, source: str, stop: threading.Event | None = None) -> Iterator[RelayLock]:
    """Hold the single-active lock for `source`'s relay; blocks (as a standby) until it is free.

    Yields a false RelayLock when `stop` was set before the lock was acquired.
    """
    key = zlib.crc32(f"chibo-relay:{source}".encode())
    if settings.kind == "postgres":
        import psycopg

        conn = psycopg.connect(
            host=settings.pg_host,
            port=settings.pg_port,
            user=settings.pg_user,
            password=settings.pg_password or None,
            dbname=settings.dbname(source),
            autocommit=True,
        )

        def held() -> bool:
            # A one-int key is stored as (classid 0, objid key, objsubid 1) in pg_locks.
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                " AND granted AND classid::bigint = 0 AND objid::bigint = %s AND objsubid = 1", (key,)
            ).fetchone()
            return bool(row and row[0])

        try:
            # The lock belongs to this session: it is released when the relay's process or connection dies.
            acquired = _until_acquired(
                lambda: bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]), stop
            )
            yield RelayLock(acquired, held)
        finally:
            with contextlib.suppress(Exception):
                conn.close()
    else:
        path = settings.sqlite_path(source, "relay").with_suffix(".lock")
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)

        def try_flock() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        try:
            # A file lock lives as long as this process's descriptor: nothing can take it away from us.
            yield RelayLock(_until_acquired(try_flock, stop), lambda: True)
        finally:
            os.close(fd)
