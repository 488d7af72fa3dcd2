"""Thin nameko adapters around the framework-free pieces in shared/.

* `tracked_consumer(source)`: an entrypoint that consumes the (consumer, source) queue in delivery order,
  dead-letters messages that break the contract, and keeps in hand and retries (after a backoff) those that
  failed for an infrastructure reason. Replaces nameko's `event_handler`, whose defaults ack a failed message
  and split a source over one queue per event type (design.md §6). The decorated method gets a batch: the
  messages already delivered when it takes one up (up to CHIBO.consumer_batch), which TrackedViews.apply_many
  commits in one transaction (shared/consumer.py); they are acked after that commit, or all tried again.
* `Application`: the service's eventsourcing application.
* `TrackedViews`: the service's read models with their `TrackedApplier`.
* `EmbeddedRelay`: runs the outbox relay inside the service when CHIBO.relay is `embedded`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import eventlet
from amqp.exceptions import ConnectionError as AmqpConnectionError
from eventlet.event import Event
from eventlet.queue import Empty, LightQueue
from kombu import Connection, Producer
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer, QueueConsumer

from shared import metrics, topology
from shared.access import OwnCredential
from shared.config import ChiboSettings, settings_from
from shared.consumer import Event as Delivered
from shared.consumer import Project, ProjectMany, TrackedApplier, http_fetch_range, is_transient
from shared.contracts import ContractError, parse_event
from shared.pii import key_settings
from shared.relay import EnvelopeReader, OutboxRelay, Publisher, Translate
from shared.stores import Statement, TrackedStore, event_store_env

log = logging.getLogger(__name__)


def chibo_settings(container: Any) -> ChiboSettings:
    return settings_from(container.config)


class DeadLetterPublisher:
    """Publishes a failed message to its queue's dead-letter queue, with the reason in headers."""

    def __init__(self, amqp_uri: str, consumer: str, source: str, transport_options: dict[str, Any]):
        self.amqp_uri = amqp_uri
        self.queue = topology.dead_letter_queue(consumer, source)
        self.consumer = consumer
        self.transport_options = transport_options

    def __call__(self, body: Any, reason: str) -> None:
        options = topology.publisher_options(self.amqp_uri, self.transport_options)
        with Connection(self.amqp_uri, transport_options=options, connect_timeout=5) as conn:
            channel = conn.channel()
            self.queue(channel).declare()
            Producer(channel).publish(
                json.dumps(body, ensure_ascii=False, default=str),
                exchange=topology.DLX,
                routing_key=self.queue.routing_key,
                delivery_mode=2,
                content_type="application/json",
                content_encoding="utf-8",
                headers={
                    "x-chibo-reason": reason[:2000],
                    "x-chibo-consumer": self.consumer,
                    "x-chibo-failed-at": datetime.now(UTC).isoformat(),
                },
                retry=False,
            )


class TrackedQueueConsumer(QueueConsumer):
    """nameko's QueueConsumer, plus: a message kombu cannot decode (malformed JSON, a content type we do
    not accept) is dead-lettered with the reason. nameko sets no `on_decode_error`, so kombu re-raises
    inside the consume loop: the service's consumer dies, and the message comes back at every restart.

    Its prefetch is CHIBO.consumer_batch (at least the container's max_workers, nameko's own choice): a
    tracked consumer takes up whatever has been delivered to it, so the unacked messages the broker lets it
    hold bound its batches. nameko's prefetch (max_workers, 10 by default) sizes a pool of concurrent workers,
    which a tracked consumer never has: it runs one worker at a time, in order."""

    consuming = False  # connected and subscribed (readiness: shared/readiness.py)

    @property
    def prefetch_count(self) -> int:
        return max(self.container.max_workers, chibo_settings(self.container).consumer_batch)

    @contextlib.contextmanager
    def extra_context(self, connection: Any, channel: Any) -> Any:
        # kombu's ConsumerMixin runs the consume loop inside this context, once per (re)connection.
        self.consuming = True
        try:
            yield
        finally:
            self.consuming = False

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._undecodable, provider)
        return consumers

    def _undecodable(self, provider: Any, message: Any, exc: Exception) -> None:
        body = message.body.decode("utf-8", "replace") if isinstance(message.body, bytes) else message.body
        reason = f"undecodable ({message.content_type}): {type(exc).__name__}: {exc}"
        log.error("%s: dead-lettering a message that cannot be decoded: %s", provider.queue.name, reason)
        provider.dead_letter({"undecodable_body": body}, reason)
        metrics.CONSUMER_EVENTS.labels(provider.container.service_name, provider.source, "dead_lettered").inc()
        message.ack()


class TrackedConsumer(Consumer):
    """Consume `<service>.<source>` in order; the decorated method gets a list of (envelope, payload), in
    delivery order, to hand to TrackedViews.apply_many."""

    queue_consumer = TrackedQueueConsumer()

    def __init__(self, source: str, **kwargs: Any):
        self.source = source
        super().__init__(queue=None, **kwargs)

    def setup(self) -> None:
        settings = chibo_settings(self.container)
        consumer = self.container.service_name
        self.queue = topology.consumer_queue(consumer, self.source, quorum=not topology.is_memory(settings.amqp_uri))
        self.dead_letter = DeadLetterPublisher(
            settings.amqp_uri, consumer, self.source, self.container.config.get("TRANSPORT_OPTIONS") or {}
        )
        self._inbox: LightQueue = LightQueue()
        self._loop = None
        self._stopping = False
        self.busy_since: float | None = None  # monotonic time the messages in hand were taken up
        self.batch = settings.consumer_batch
        super().setup()

    def start(self) -> None:
        self._loop = self.container.spawn_managed_thread(self._process_loop, identifier=f"tracked:{self.source}")
        super().start()

    def stop(self) -> None:
        """Graceful: no new deliveries, finish the batch in flight (applied and acked), then stop. Messages
        delivered but not started go back to the queue when the connection closes."""
        super().stop()
        self._stopping = True
        self._inbox.put(None)  # wakes the loop if it is idle
        if self._loop is not None:
            with eventlet.Timeout(30, False):
                self._loop.wait()
            self._loop.kill()

    def handle_message(self, body: Any, message: Any) -> None:
        # Called in delivery order; the single loop below keeps that order.
        self._inbox.put((body, message))

    def _process_loop(self) -> None:
        """Take what is delivered, in order, and apply it. Messages that failed for a transient reason (the
        database gone, a serialization failure) are kept in hand and tried again after a backoff, before
        anything delivered later: requeueing them would raise their delivery count at every try, and the
        quorum queue dead-letters a message past its delivery limit, so a database outage of some minutes
        would have filled the dead-letter queue with good messages. They go back to the queue only if this
        consumer stops first (another replica then takes them)."""
        backoff = 0.2
        idle = float(chibo_settings(self.container).catch_up_interval)
        held: list[tuple[Any, Any]] = []  # (body, message) kept in hand after a transient failure
        held_since: float | None = None
        self._catch_up()  # whatever was published while this consumer was away
        while not self._stopping:
            if held:
                items, held = held, []
            else:
                try:
                    item = self._inbox.get(timeout=idle)
                except Empty:
                    self._catch_up()
                    continue
                items = [item]
                while items[-1] is not None and len(items) < self.batch:  # what is already here, without waiting
                    try:
                        items.append(self._inbox.get_nowait())
                    except Empty:
                        break
                if items[-1] is None or self._stopping:  # not started: the broker delivers them again
                    return
            started = time.monotonic()
            self.busy_since = held_since or started  # the lag counts the time the messages have been in hand
            try:
                outcomes = self._process_batch(items)
            finally:
                self.busy_since = None
            retry = [item for item, (_, outcome) in zip(items, outcomes, strict=True) if outcome == "requeue"]
            metrics.CONSUMER_DURATION.labels(self.container.service_name, self.source,
                                             "retry" if retry else "ack").observe(time.monotonic() - started)
            for message, outcome in outcomes:
                if outcome != "requeue":
                    self._settle(self.queue_consumer.ack_message, message)
            if not retry:
                backoff, held_since = 0.2, None
                continue
            metrics.CONSUMER_EVENTS.labels(self.container.service_name, self.source, "retried").inc(len(retry))
            held, held_since = retry, held_since or started
            self.busy_since = held_since
            eventlet.sleep(backoff)  # stop() sets _stopping; the loop then hands the messages back
            self.busy_since = None
            backoff = min(backoff * 2, 10.0)
        for _, message in held:
            self._settle(self.queue_consumer.requeue_message, message)

    def _process_batch(self, items: list[tuple[Any, Any]]) -> list[tuple[Any, str]]:
        """(message, "ack" | "requeue") for each message, in order. Messages that break the contract are
        dead-lettered; runs of valid ones are applied together; a re-driven message on its own. Once a
        message must be requeued, the later ones are requeued unseen (order)."""
        outcomes: list[tuple[Any, str]] = []
        pending: list[tuple[Any, Any, Delivered]] = []  # (body, message, event) not yet applied
        views = self._views()

        def flush() -> None:
            if pending:
                outcomes.extend(zip([m for _, m, _ in pending], self._apply(pending), strict=True))
                pending.clear()

        for body, message in items:
            if outcomes and outcomes[-1][1] == "requeue":
                outcomes.append((message, "requeue"))
                continue
            parsed = self._parse(body)
            if parsed is None:
                outcomes.append((message, "ack"))  # dead-lettered
            elif (message.headers or {}).get(REDRIVE_HEADER) and views is not None:
                flush()
                if outcomes and outcomes[-1][1] == "requeue":
                    outcomes.append((message, "requeue"))
                else:
                    outcomes.append((message, self._redrive(views, body, *parsed)))
            else:
                pending.append((body, message, parsed))
        flush()
        return outcomes

    def _parse(self, body: Any) -> Delivered | None:
        """The message's (envelope, payload), or None once it is dead-lettered for breaking the contract."""
        try:
            if isinstance(body, bytes | str):
                body = json.loads(body)
            envelope, payload = parse_event(body)
            if envelope.source != self.source:
                raise ContractError(f"{envelope.source} event on the {self.source} queue", "source")
        except (ContractError, ValueError) as exc:
            log.error("%s: dead-lettering a message that breaks the contract: %s", self.queue.name, exc)
            self.dead_letter(body, f"contract: {exc}")
            metrics.CONSUMER_EVENTS.labels(self.container.service_name, self.source, "dead_lettered").inc()
            return None
        return envelope, payload

    def _apply(self, pending: list[tuple[Any, Any, Delivered]]) -> list[str]:
        """Apply the events in one worker (the service's method: TrackedViews.apply_many); "ack" or "requeue"
        for each. When the worker fails for a reason of its own (not a transient one: those requeue all),
        the messages are taken again one per worker, so the one that fails is dead-lettered as it would be
        alone, and the others applied (or skipped: those the batch had committed before failing)."""
        error = self._in_worker([event for _, _, event in pending])
        if error is None:
            return ["ack"] * len(pending)
        if is_transient(error):
            log.warning("%s: %s; requeueing %d message(s)", self.queue.name, error, len(pending))
            return ["requeue"] * len(pending)
        if len(pending) > 1:
            outcomes: list[str] = []
            for one in pending:
                outcomes += ["requeue"] if outcomes and outcomes[-1] == "requeue" else self._apply([one])
            return outcomes
        self.dead_letter(pending[0][0], f"{type(error).__name__}: {error}")
        return ["ack"]

    def _in_worker(self, events: list[Delivered]) -> BaseException | None:
        """Run the decorated method on `events` in a nameko worker; the error it raised, if any."""
        correlations = {envelope.correlation_id for envelope, _ in events}
        done = Event()
        self.container.spawn_worker(
            self, (events,), {},
            context_data={"correlation_id": correlations.pop()} if len(correlations) == 1 else {},
            handle_result=lambda worker_ctx, result, exc_info: (done.send(exc_info), (result, exc_info))[1],
        )
        exc_info = done.wait()
        return None if exc_info is None else exc_info[1]

    def _settle(self, settle: Callable[[Any], None], message: Any) -> None:
        """Ack or requeue; on a connection that died under us (the broker gone, a reset, a cut), do nothing:
        the broker gives the message again after the reconnection, and the consumer skips it as a duplicate
        if it was applied. nameko only guards against amqp's own ConnectionError, not a broken pipe, and
        an error here would end the loop and the service with it."""
        try:
            settle(message)
        except (OSError, AmqpConnectionError) as exc:
            log.warning("%s: could not settle a message (%s); the broker will deliver it again",
                        self.queue.name, exc)

    def lag_seconds(self) -> float:
        """How far behind this consumer is: the lag of the last event it applied, or, when one message has been
        in hand for longer (a stuck handler, a database that hangs), that time."""
        views = self._views()
        applied = views.applier.lag.get(self.source, 0.0) if views is not None and hasattr(views, "applier") else 0.0
        busy = self.busy_since
        return max(applied, 0.0 if busy is None else time.monotonic() - busy)

    def _views(self) -> TrackedViews | None:
        return next((d for d in self.container.dependencies if isinstance(d, TrackedViews)), None)

    def _catch_up(self) -> None:
        """Pull what the source published beyond our position; in this loop, so order is kept."""
        views = self._views()
        if views is None:
            return
        try:
            views.applier.catch_up(self.source)
        except Exception as exc:  # the source may be down or not started yet: the next idle tick retries
            log.info("%s: catch-up from %s not possible now: %s", self.container.service_name, self.source, exc)

    def _redrive(self, views: TrackedViews, body: Any, envelope: Any, payload: Any) -> str:
        """A message an operator re-drove from the dead-letter queue (`chibo deadletters redrive`)."""
        try:
            views.applier.redrive(envelope, payload)
        except Exception as exc:
            if is_transient(exc):
                log.warning("%s: %s; requeueing a re-driven message", self.queue.name, exc)
                return "requeue"
            self.dead_letter(body, f"{type(exc).__name__}: {exc}")
        return "ack"


tracked_consumer = TrackedConsumer.decorator
REDRIVE_HEADER = "x-chibo-redrive"  # set by `chibo deadletters redrive` (services/deadletters.py)


class Application(DependencyProvider):
    """Provides the service's eventsourcing application (the event store and its commands)."""

    def __init__(self, factory: Callable[[dict[str, str]], Any]):
        self.factory = factory

    def setup(self) -> None:
        settings = chibo_settings(self.container)
        self.app = self.factory(event_store_env(settings.store, self.container.service_name))

    def stop(self) -> None:
        self.app.close()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.app


class TrackedViews(DependencyProvider):
    """Provides the read models; `apply(envelope, payload)` is the tracked, exactly-once apply.

    Gap filling reads the sources' notification logs with the service's own credential (`OwnCredential`)."""

    credential = OwnCredential()

    def __init__(self, ddl: Sequence[Statement], project: Project, project_many: ProjectMany | None = None):
        self.ddl = ddl
        self.project = project
        self.project_many = project_many  # a batch in one pass (else `project` for each event of a batch)

    def setup(self) -> None:
        settings = chibo_settings(self.container)
        key_settings(settings.store)  # refuse to start on missing or public keys (shared/pii.py)
        self.store = TrackedStore(settings.store, self.container.service_name)
        self.store.create_tables(self.ddl)
        project, project_many = self.project, self.project_many
        if os.environ.get("CHIBO_FAULT_REJECT_FILE"):  # fault injection (tests/faults): a handler that rejects
            project, project_many = _rejecting(project, project_many, os.environ["CHIBO_FAULT_REJECT_FILE"])
        consumer = self.container.service_name
        options = self.container.config.get("TRANSPORT_OPTIONS") or {}
        publishers = {s: DeadLetterPublisher(settings.amqp_uri, consumer, s, options)
                      for s in topology.SUBSCRIPTIONS.get(consumer, ())}
        self.applier = TrackedApplier(
            consumer,
            self.store,
            project,
            fetch_range=http_fetch_range(settings.sources, headers=self.credential.header),
            dead_letter=lambda body, reason: publishers[body["source"]](body, reason),
            max_tries=settings.max_tries,
            project_many=project_many,
        )

    def stop(self) -> None:
        self.store.close()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self

    def apply(self, envelope: Any, payload: Any) -> Any:
        return self.applier.handle(envelope, payload)

    def apply_many(self, events: Sequence[Delivered]) -> Any:
        """Apply a tracked consumer's batch (TrackedApplier.handle_many)."""
        return self.applier.handle_many(events)


def _rejecting(project: Project, project_many: ProjectMany | None,
               path: str) -> tuple[Project, ProjectMany | None]:
    """`project` and `project_many`, except that while the file `path` exists, an event whose payload holds
    the file's text is refused (a handler bug, for the poison-message test); deleting the file is "deploying
    the fix"."""

    def refuse(payload: Any) -> None:
        try:
            with open(path, encoding="utf-8") as f:
                marker = f.read().strip()
        except FileNotFoundError:
            marker = ""
        if marker and marker in payload.model_dump_json():
            raise ValueError(f"fault injection: this handler rejects {marker!r}")

    def guarded(sql: Any, envelope: Any, payload: Any) -> None:
        refuse(payload)
        project(sql, envelope, payload)

    def guarded_many(sql: Any, events: Sequence[Delivered]) -> None:
        for _, payload in events:
            refuse(payload)
        assert project_many is not None
        project_many(sql, events)

    return guarded, (guarded_many if project_many is not None else None)


class EmbeddedRelay(DependencyProvider):
    """Runs the outbox relay in the service's process when CHIBO.relay is `embedded`.

    `nudge()` after a command wakes it at once, so an event reaches the bus without waiting for a poll.
    """

    def __init__(self, translate: Translate, app_attr: str = "app"):
        self.translate = translate
        self.app_attr = app_attr

    def setup(self) -> None:
        self.settings = chibo_settings(self.container)
        self.enabled = self.settings.relay == "embedded"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._gt = None

    def start(self) -> None:
        if not self.enabled:
            return
        app_provider = next(
            d for d in self.container.dependencies if getattr(d, "attr_name", None) == self.app_attr
        )
        source = self.container.service_name
        self.reader = EnvelopeReader(source, app_provider.app, self.translate)
        self.state = TrackedStore(self.settings.store, source, name="relay")
        options = self.container.config.get("TRANSPORT_OPTIONS") or {}
        publisher = Publisher(self.settings.amqp_uri, source, transport_options=options)
        self.relay = OutboxRelay(self.reader, publisher, self.state)
        self._gt = self.container.spawn_managed_thread(self._run, identifier=f"relay:{source}")

    def _run(self) -> None:
        self.relay.run_guarded(self.settings.store, self._stop, self._wake, self.settings.poll_interval)

    def stop(self) -> None:
        """Finish the batch in flight (it is then recorded), then stop."""
        self._stop.set()
        self._wake.set()
        if self._gt is not None:
            self._gt.wait()
            self.state.close()

    def kill(self) -> None:
        # The container has killed our thread already; whatever it had published but not recorded is
        # republished by the next relay (at least once, never lost).
        self._stop.set()
        self._wake.set()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self

    def nudge(self) -> None:
        self._wake.set()
