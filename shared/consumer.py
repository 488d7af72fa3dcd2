"""The tracked consumer's logic, free of nameko: apply each event of a source exactly once, in order.

* duplicate (position <= last applied): skipped;
* gap (the event's previous_position is beyond the last applied, or, without it, position > last + 1):
  the missing range is pulled from the source's notification API and applied first;
* each apply and the new position commit in one transaction (TrackedStore.tracked);
* an event the projection keeps rejecting (after `max_tries`) is dead-lettered with the reason and its
  position is recorded as handled, so the stream goes on; infrastructure errors (database, network) are
  not the event's fault and propagate, so the message is requeued instead.

Batches (`handle_many`: the messages a consumer finds already delivered, shared/nameko_ext.py): a run of
contiguous events of one source (each one's previous_position is the one before it) commits in ONE transaction
that records the run's last position, with the views' batch projection when they have one (`project_many`,
e.g. reporting's, which recounts each meeting once per run) or `project` for each event. In a burst this saves
a transaction, a tracking insert and the per-event recounts for all but one event of the run. The rules above
still hold event by event: duplicates are dropped from the run, a gap in the middle of a batch ends the run
and is filled before the next one, and a run the projection refuses (any non-transient error) is rolled back
and applied again one event per transaction, so only the poison event is dead-lettered, exactly as without
batching. A transient error propagates with nothing of the run committed (the caller requeues every message).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from eventsourcing.persistence import InterfaceError, OperationalError

from shared import metrics
from shared.contracts import Envelope, Payload, parse_event
from shared.stores import AlreadyApplied, Sql, TrackedStore

log = logging.getLogger(__name__)

Project = Callable[[Sql, Envelope, Payload], None]
Event = tuple[Envelope, Payload]
# Apply events (contiguous, of one source) in order within the caller's transaction, leaving the tables as
# `project` one event at a time would (services/reporting/compliance/projection.py project_many)
ProjectMany = Callable[[Sql, Sequence[Event]], None]
# (source, after, before) -> every published envelope of source with after < position < before, in order
FetchRange = Callable[[str, int, int], Iterable[dict[str, Any]]]
# (envelope JSON, reason) -> publish it to the dead-letter queue
DeadLetter = Callable[[dict[str, Any], str], None]

DEAD_LETTERS_DDL = (
    "CREATE TABLE IF NOT EXISTS dead_letters ("
    " source TEXT NOT NULL, position BIGINT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,"
    " reason TEXT NOT NULL, failed_at TEXT NOT NULL, PRIMARY KEY (source, position))",
)

TRANSIENT = (OSError, OperationalError, InterfaceError, requests.RequestException)


def is_transient(exc: BaseException) -> bool:
    """An error of the infrastructure, not of the event: retry later rather than dead-letter."""
    return isinstance(exc, TRANSIENT)


@dataclass
class Result:
    applied: int = 0
    duplicates: int = 0
    gap_filled: int = 0
    dead_lettered: list[str] = field(default_factory=list)


class TrackedApplier:
    def __init__(
        self,
        consumer: str,
        store: TrackedStore,
        project: Project,
        fetch_range: FetchRange,
        dead_letter: DeadLetter,
        max_tries: int = 3,
        project_many: ProjectMany | None = None,
    ):
        self.consumer = consumer
        self.store = store
        self.project = project
        self.project_many = project_many
        self.fetch_range = fetch_range
        self.dead_letter = dead_letter
        self.max_tries = max_tries
        # Last applied position per source, as this applier knows it. It can only lag the store (it is set
        # after a commit), and a lagging value is harmless: the tracking insert refuses a position already
        # applied (AlreadyApplied), and then the cache is refreshed. It saves two queries per event.
        self._positions: dict[str, int] = {}
        # Seconds between the source recording the last event applied and its application, per source (0 once
        # caught up): exported as chibo_consumer_lag_seconds and judged by readiness (shared/readiness.py).
        self.lag: dict[str, float] = {}
        store.create_tables(DEAD_LETTERS_DDL)

    def position(self, source: str) -> int:
        if source not in self._positions:
            self._positions[source] = self.store.position(source)
        return self._positions[source]

    def handle(self, envelope: Envelope, payload: Payload) -> Result:
        return self.handle_many([(envelope, payload)])

    def handle_many(self, events: Iterable[Event]) -> Result:
        """Apply delivered events in their order: runs of contiguous events in one transaction each (module
        docstring). The same outcome, event by event, as `handle` for each in turn."""
        result = Result()
        run: list[Event] = []
        for envelope, payload in events:
            source = envelope.source
            if run and (source != run[-1][0].source or _missed(envelope, run[-1][0].position)):
                self._apply_run(run, result)
                run = []
            last = run[-1][0].position if run else self.position(source)
            if envelope.position <= last:
                result.duplicates += 1
                self._count(source, "duplicate")
                continue
            if not run and _missed(envelope, last):
                self._fill(source, last, envelope.position, result)
            run.append((envelope, payload))
        if run:
            self._apply_run(run, result)
        return result

    def _apply_run(self, run: Sequence[Event], result: Result) -> None:
        """Contiguous events of one source, beyond our position: one transaction, else one event at a time."""
        source, first, last = run[0][0].source, run[0][0].position, run[-1][0].position
        if len(run) == 1:
            self._apply(*run[0], result)
        else:
            try:
                with self.store.tracked(source, last, first=first) as sql:
                    if self.project_many is not None:
                        self.project_many(sql, run)
                    else:
                        for envelope, payload in run:
                            self.project(sql, envelope, payload)
            except Exception as exc:
                if is_transient(exc):
                    raise
                if isinstance(exc, AlreadyApplied):  # another replica applied some of it meanwhile
                    self._positions.pop(source, None)
                else:
                    log.info("%s: a batch of %d %s events (%d..%d) was refused (%s: %s); applying them one by one",
                             self.consumer, len(run), source, first, last, type(exc).__name__, exc)
                for envelope, payload in run:
                    if envelope.position <= self.position(source):
                        result.duplicates += 1
                        self._count(source, "duplicate")
                    else:
                        self._apply(envelope, payload, result)
            else:
                self._positions[source] = last
                result.applied += len(run)
                self._count(source, "applied", len(run))
        metrics.CONSUMER_POSITION.labels(self.consumer, source).set(self.position(source))
        self._lag(source, _age(run[-1][0]))

    def catch_up(self, source: str) -> Result:
        """Apply whatever `source` published after our last position (at start-up and when idle).

        Without it, a message lost at the tail of a stream (a purged queue, in-memory messages gone with
        a restart) would only be noticed when the next event arrives.
        """
        result = Result()
        self._positions.pop(source, None)  # ask the store: another replica may have moved on meanwhile
        self._fill(source, self.position(source), 2**62, result)
        metrics.CONSUMER_POSITION.labels(self.consumer, source).set(self.position(source))
        self._lag(source, 0.0)  # nothing published is left to apply
        return result

    def _fill(self, source: str, after: int, before: int, result: Result) -> None:
        """Pull and apply the source's events with after < position < before, in order."""
        for data in self.fetch_range(source, after, before):
            envelope, payload = parse_event(data)
            if envelope.position <= self.position(source):
                continue
            self._apply(envelope, payload, result)
            result.gap_filled += 1
            self._count(source, "gap_filled")
            self._lag(source, _age(envelope))  # a long catch-up is lag too (readiness sees it meanwhile)

    def _apply(self, envelope: Envelope, payload: Payload, result: Result) -> None:
        source = envelope.source
        error: BaseException | None = None
        for _ in range(self.max_tries):
            try:
                with self.store.tracked(source, envelope.position) as sql:
                    self.project(sql, envelope, payload)
            except AlreadyApplied:
                self._positions.pop(source, None)  # our cached position was behind the store's
                result.duplicates += 1
                self._count(source, "duplicate")
                return
            except Exception as exc:
                if is_transient(exc):
                    raise
                error = exc
                continue
            self._positions[source] = envelope.position
            result.applied += 1
            self._count(source, "applied")
            return
        assert error is not None
        reason = f"{type(error).__name__}: {error}"
        log.error("%s: dead-lettering %s %s@%s: %s\n%s", self.consumer, envelope.type, source,
                  envelope.position, reason, "".join(traceback.format_exception(error)))
        self.dead_letter(envelope.to_json(), reason)
        with self.store.tracked(source, envelope.position) as sql:
            sql.execute(
                "INSERT INTO dead_letters (source, position, event_id, type, reason, failed_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (source, envelope.position, str(envelope.event_id), envelope.type, reason,
                 datetime.now(UTC).isoformat()),
            )
        self._positions[source] = envelope.position
        result.dead_lettered.append(reason)
        self._count(source, "dead_lettered")

    def redrive(self, envelope: Envelope, payload: Payload) -> Result:
        """Apply an event an operator re-drove from the dead-letter queue (`chibo deadletters redrive`).

        Its position was recorded as handled when it was dead-lettered, so the position cannot guard it: its
        row in `dead_letters` does. The row is deleted and the event applied in one transaction: a second
        re-drive of the same message finds no row and is skipped; a re-drive that fails again leaves the row
        (the caller dead-letters the message again)."""
        result = Result()
        source = envelope.source
        with self.store.write() as sql:
            deleted = sql.execute("DELETE FROM dead_letters WHERE source = ? AND position = ?",
                                  (source, envelope.position)).rowcount
            if deleted:
                self.project(sql, envelope, payload)
        if deleted:
            result.applied += 1
            self._count(source, "redriven")
        else:
            result.duplicates += 1
            self._count(source, "duplicate")
        return result

    def _lag(self, source: str, seconds: float) -> None:
        self.lag[source] = seconds
        metrics.CONSUMER_LAG.labels(self.consumer, source).set(seconds)

    def _count(self, source: str, outcome: str, n: int = 1) -> None:
        metrics.CONSUMER_EVENTS.labels(self.consumer, source, outcome).inc(n)


def _missed(envelope: Envelope, last: int) -> bool:
    """Whether events between `last` and `envelope` are missing (a hole in positions is not a gap when the
    envelope says which position came before it)."""
    if envelope.previous_position is not None:
        return envelope.previous_position > last
    return envelope.position > last + 1


def _age(envelope: Envelope) -> float:
    """Seconds since the source recorded the event (0 when its clock is ahead of ours)."""
    recorded = envelope.recorded_at if envelope.recorded_at.tzinfo else envelope.recorded_at.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - recorded).total_seconds())


def http_fetch_range(sources: dict[str, str], page_size: int = 500, timeout: float = 10.0,
                     headers: Callable[[], dict[str, str]] = dict) -> FetchRange:
    """Gap filling over HTTP: GET <source url>/notifications?after=N&limit=M, with `headers()` (the consuming
    service's own credential, shared/auth.py ServiceCredential)."""

    def fetch(source: str, after: int, before: int) -> Iterable[dict[str, Any]]:
        base = sources.get(source)
        if base is None:
            raise LookupError(f"no URL configured for source {source!r} (CHIBO.sources)")
        while after < before - 1:
            response = requests.get(
                f"{base}/notifications", params={"after": after, "limit": page_size}, timeout=timeout,
                headers=headers(),
            )
            response.raise_for_status()
            items = response.json()["items"]
            if not items:
                return
            for item in items:
                if item["position"] >= before:
                    return
                yield item
                after = item["position"]

    return fetch
