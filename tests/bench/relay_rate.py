"""Relay publish rate on the real broker: batched confirms against per-message confirms.

    .venv/bin/python -m tests.bench.relay_rate [--events 20000] [--batch 500] [--mode both|batch|each]

Publishes `--events` envelopes with the relay's Publisher in batches of `--batch` to `members.events`, bound
(like production) to a durable quorum queue, so every confirm waits for the queue's disk write. `batch` is
the relay's publisher (write the batch, collect the acks once), `each` the per-message confirms it replaced
(kombu `confirm_publish`). Measures the publisher only (the envelopes are built beforehand; no store is read).
Prints events/s per mode and the machine's load. Uses its own vhost, deleted afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import time
import uuid

from kombu import Connection

from shared import topology
from shared.contracts import Envelope, make_envelope
from shared.contracts.members import OrgUnitCreated
from shared.relay import Publisher


def envelopes(n: int) -> list[Envelope]:
    stream, at = uuid.uuid4(), dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    return [
        make_envelope(OrgUnitCreated(unit_id=uuid.uuid4(), kind="cell", name=f"Chi bộ {i}", code=f"C{i}",
                                     parent_id=stream, block="residential", effective_from=dt.date(2020, 1, 1)),
                      event_id=uuid.uuid4(), source="members", position=i, previous_position=i - 1,
                      stream_id=stream, stream_version=i, occurred_at=at, recorded_at=at, recorded_by="bench")
        for i in range(1, n + 1)
    ]


def rate(amqp_uri: str, events: list[Envelope], batch: int, batch_confirms: bool) -> float:
    publisher = Publisher(amqp_uri, "members", batch_confirms=batch_confirms)
    publisher.publish(events[:1])  # connect and declare outside the timing
    started = time.perf_counter()
    for i in range(1, len(events), batch):
        publisher.publish(events[i:i + batch])
    elapsed = time.perf_counter() - started
    publisher.close()
    return (len(events) - 1) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--mode", choices=("both", "batch", "each"), default="both")
    args = parser.parse_args()
    vhost = f"chibo-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    amqp_uri = f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
    try:
        with Connection(amqp_uri) as conn:
            channel = conn.channel()
            topology.DLX(channel).declare()
            topology.consumer_queue("bench", "members")(channel).declare()
            queue = topology.queue_name("bench", "members")
            events = envelopes(args.events)
            print(f"{args.events} envelopes in batches of {args.batch}, quorum queue, persistent, mandatory")
            for batch_confirms in {"both": (False, True), "batch": (True,), "each": (False,)}[args.mode]:
                load_before = os.getloadavg()[0]
                per_s = rate(amqp_uri, events, args.batch, batch_confirms)
                channel.queue_purge(queue)
                name = "batched confirms" if batch_confirms else "per-message confirms"
                print(f"{name:22s} {per_s:8.0f} events/s   (load 1 min before {load_before:.2f}, "
                      f"after {os.getloadavg()[0]:.2f})")
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"Python {platform.python_version()}")


if __name__ == "__main__":
    main()
