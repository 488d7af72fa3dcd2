"""The dead-letter queues, for an operator: list, inspect and re-drive (`chibo deadletters ...`).

Each (consumer, source) queue has a dead-letter queue `<consumer>.<source>.dlq` (shared/topology.py) where a
consumer puts a message it could not apply, with the reason in headers (shared/nameko_ext.py
DeadLetterPublisher). This module talks to RabbitMQ directly (AMQP, the broker's credentials): it is an
operator's tool on the deployment's network, not an HTTP route, so it needs no API token; the action it
stands for in the policy is `deadletters:manage` (operator role).

Re-driving puts the message back on its consumer's queue with the header `x-chibo-redrive`: the consumer
applies it once even though its position was already passed (TrackedApplier.redrive; the consumer's
`dead_letters` row is the guard), so re-drive only after the cause is fixed. Listing and showing leave the
queue as it was (messages are read without being acknowledged, then returned).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Producer

from shared import topology
from shared.nameko_ext import REDRIVE_HEADER


@dataclass
class DeadLetter:
    index: int  # 1-based, in queue order
    queue: str
    body: Any
    headers: dict[str, Any]
    message: Any = None

    @property
    def position(self) -> int | None:
        return self.body.get("position") if isinstance(self.body, dict) else None

    @property
    def reason(self) -> str:
        return str(self.headers.get("x-chibo-reason", ""))

    def summary(self) -> dict[str, Any]:
        body = self.body if isinstance(self.body, dict) else {}
        return {"index": self.index, "queue": self.queue, "source": body.get("source"), "position": self.position,
                "type": body.get("type"), "event_id": body.get("event_id"), "reason": self.reason,
                "failed_at": self.headers.get("x-chibo-failed-at")}


def queues(consumer: str | None = None, source: str | None = None) -> list[tuple[str, str]]:
    """The (consumer, source) pairs that have a dead-letter queue, filtered."""
    return [(c, s) for c, sources in topology.SUBSCRIPTIONS.items() for s in sources
            if consumer in (None, c) and source in (None, s)]


@contextmanager
def _held(amqp_uri: str, consumer: str, source: str) -> Iterator[tuple[Any, list[DeadLetter]]]:
    """Every message of the DLQ, taken without acknowledgement: what is not acked returns to the queue (in
    order) when the channel closes."""
    queue = topology.dead_letter_queue(consumer, source)
    with Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        queue(channel).declare()
        held = []
        while True:
            message = channel.basic_get(queue.name, no_ack=False)
            if message is None:
                break
            raw = message.body.decode("utf-8", "replace") if isinstance(message.body, bytes) else message.body
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
            held.append(DeadLetter(len(held) + 1, queue.name, body, dict(message.headers or {}), message))
        try:
            yield channel, held
        finally:
            channel.close()


def list_dead_letters(amqp_uri: str, consumer: str | None = None, source: str | None = None) -> list[DeadLetter]:
    out = []
    for c, s in queues(consumer, source):
        with _held(amqp_uri, c, s) as (_, held):
            out.extend(held)
    return out


def redrive(amqp_uri: str, consumer: str, source: str, positions: set[int] | None = None,
            indexes: set[int] | None = None) -> list[DeadLetter]:
    """Move the chosen messages (all when neither `positions` nor `indexes` is given) back to the consumer's
    queue, marked as re-driven; each is acknowledged on the DLQ only after the broker confirmed the copy."""
    target = topology.queue_name(consumer, source)
    moved = []
    options = topology.publisher_options(amqp_uri)
    with _held(amqp_uri, consumer, source) as (channel, held), \
            Connection(amqp_uri, transport_options=options, connect_timeout=5) as out:
        producer = Producer(out.channel())
        for letter in held:
            everything = positions is None and indexes is None
            if not (everything or letter.position in (positions or ()) or letter.index in (indexes or ())):
                continue
            headers = dict(letter.headers, **{REDRIVE_HEADER: 1})
            producer.publish(json.dumps(letter.body, ensure_ascii=False), exchange="", routing_key=target,
                             mandatory=True, delivery_mode=2, content_type="application/json",
                             content_encoding="utf-8", headers=headers, retry=False)
            channel.basic_ack(letter.message.delivery_tag)
            moved.append(letter)
    return moved
