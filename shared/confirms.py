"""Batched publisher confirms on a py-amqp channel.

kombu's `confirm_publish` makes py-amqp wait for the broker's ack after every message: one round trip (and,
for persistent messages on quorum queues, one disk sync) per message. Here a whole batch is written, then the
acks are collected: the broker confirms many messages at once (`basic.ack` with multiple=True) and the round
trips overlap. The guarantee is the same, for the batch as a whole: `publish_confirmed` returns only when the
broker acked every message, and raises when any is nacked, returned as unroutable (`mandatory=True`; RabbitMQ
sends the `basic.return` before that message's ack), when the connection dies, or when the acks do not all
arrive in time. On a raise the caller must drop the connection (its channel may still expect acks) and
republish the whole batch later: some of its messages may have been delivered (at least once).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

# Messages written but not yet confirmed before the publisher stops writing and reads acks: bounds what the
# broker has to buffer towards us (its acks) while we are not reading.
WINDOW = 1000


class NotConfirmed(Exception):
    """The broker refused a message of the batch (nack or unroutable), or its acks did not all arrive."""


class ConfirmTracker:
    """Follows one confirm-mode channel's delivery tags: which are still unconfirmed, and what went wrong.

    RabbitMQ numbers a confirm-mode channel's publishes 1, 2, … for the channel's life, so the tracker lives
    as long as its channel (one per connection) and is registered once on the channel's events."""

    def __init__(self, channel: Any):
        self.channel = channel
        self.next_tag = 1
        self.pending: set[int] = set()
        self.failure: str | None = None
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)

    def _settle(self, tag: int, multiple: bool) -> None:
        if multiple:
            self.pending = {t for t in self.pending if t > tag}
        else:
            self.pending.discard(tag)

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)
        self.failure = self.failure or f"nacked by the broker (delivery tag {tag}, multiple={multiple})"

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        message_id = getattr(message, "properties", {}).get("message_id")
        self.failure = self.failure or (
            f"returned as unroutable by the broker: {exc} (exchange {exchange!r}, routing key {routing_key!r}, "
            f"message_id {message_id})"
        )

    def publish(self, message: Any, exchange: str, routing_key: str) -> None:
        self.channel.basic_publish(message, exchange=exchange, routing_key=routing_key, mandatory=True)
        self.pending.add(self.next_tag)
        self.next_tag += 1

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise NotConfirmed(self.failure)


def publish_confirmed(connection: Any, tracker: ConfirmTracker, messages: Sequence[tuple[Any, str, str]],
                      timeout: float) -> None:
    """Publish (message, exchange, routing_key) in order on `tracker`'s channel; return once all are acked.

    `connection` is the py-amqp connection of the channel; `timeout` bounds each wait for acks (after the
    last write, the whole wait). Raises NotConfirmed, or the connection's error (socket.timeout, a
    ConnectionError, an AMQP channel/connection error)."""

    def wait_until(done: Any, deadline: float) -> None:
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotConfirmed(f"{len(tracker.pending)} messages not confirmed within {timeout:.1f}s")
            try:
                connection.drain_events(timeout=remaining)  # dispatches acks, nacks and returns to the tracker
            except TimeoutError as exc:  # socket.timeout: nothing more arrived in time
                raise NotConfirmed(f"{len(tracker.pending)} messages not confirmed within {timeout:.1f}s") from exc
            tracker.raise_failure()

    tracker.raise_failure()
    for message, exchange, routing_key in messages:
        if len(tracker.pending) >= WINDOW:
            wait_until(lambda: len(tracker.pending) < WINDOW, time.monotonic() + timeout)
        tracker.publish(message, exchange, routing_key)
    wait_until(lambda: not tracker.pending, time.monotonic() + timeout)
    tracker.raise_failure()
