"""Names and declarations of everything on the broker.

One topic exchange per source (`<source>.events`, routing key = event type). One durable queue per
(consumer, source), bound with `#` so a single queue holds the source's events in source order; quorum
type with single-active-consumer so replicas keep that order, and a dead-letter queue beside it. Declared
by consumers when they start and by `chibo declare` at deploy time, so the relay's `mandatory=True`
publishes always find a queue.
"""

from __future__ import annotations

from kombu import Connection, Exchange, Queue

DLX = Exchange("chibo.dlx", type="direct", durable=True)
DELIVERY_LIMIT = 50  # broker-side backstop; the consumer dead-letters poison long before this

# Who consumes what. Adding a consumer means adding it here (and to deploy definitions).
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "meetings": ("members",),  # roster replica
    "reporting": ("members", "meetings"),
}
SOURCES = ("members", "meetings")


def events_exchange(source: str) -> Exchange:
    return Exchange(f"{source}.events", type="topic", durable=True)


def queue_name(consumer: str, source: str) -> str:
    return f"{consumer}.{source}"


def dead_letter_queue(consumer: str, source: str) -> Queue:
    name = queue_name(consumer, source) + ".dlq"
    return Queue(name, exchange=DLX, routing_key=name, durable=True)


def consumer_queue(consumer: str, source: str, quorum: bool = True) -> Queue:
    name = queue_name(consumer, source)
    arguments = {
        "x-dead-letter-exchange": DLX.name,
        "x-dead-letter-routing-key": name + ".dlq",
    }
    if quorum:
        arguments |= {
            "x-queue-type": "quorum",
            "x-single-active-consumer": True,
            "x-delivery-limit": DELIVERY_LIMIT,
        }
    return Queue(
        name, exchange=events_exchange(source), routing_key="#", durable=True, queue_arguments=arguments
    )


def is_memory(amqp_uri: str) -> bool:
    return amqp_uri.startswith("memory://")


IO_TIMEOUT = 10.0  # seconds


def publisher_options(amqp_uri: str, options: dict | None = None) -> dict:
    """Transport options of a connection that publishes with confirms (relay, dead-lettering): bounded socket
    reads and writes, so that a silent network (a cut, a stalled broker) raises within IO_TIMEOUT instead of
    waiting for a confirm forever; the caller keeps its position and retries on a new connection."""
    base = {} if is_memory(amqp_uri) else {"read_timeout": IO_TIMEOUT, "write_timeout": IO_TIMEOUT}
    return base | dict(options or {}) | {"confirm_publish": True}


def declare_all(amqp_uri: str) -> list[str]:
    """Declare every exchange and queue (idempotent; the operator's `chibo declare`). Returns the queue names."""
    declared = []
    for service in dict.fromkeys([*SOURCES, *SUBSCRIPTIONS]):
        declared += declare_for(service, amqp_uri)
    return declared


def declare_for(service: str, amqp_uri: str) -> list[str]:
    """Declare what `service` itself publishes to and consumes from (idempotent), nothing more: its broker user
    may declare only that (shared/definitions.py). Returns the queue names."""
    declared: list[str] = []
    if service not in SOURCES and not SUBSCRIPTIONS.get(service):
        return declared  # uses no broker (the web app): no connection either
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        if service in SOURCES:
            events_exchange(service)(channel).declare()
        sources = SUBSCRIPTIONS.get(service, ())
        if sources:
            DLX(channel).declare()
        for source in sources:
            for queue in (consumer_queue(service, source, quorum=not is_memory(amqp_uri)),
                          dead_letter_queue(service, source)):
                queue(channel).declare()
                declared.append(queue.name)
    return declared
