"""Slice throughput, distributed: how fast stored events drain relay -> RabbitMQ -> reporting (PostgreSQL).

    .venv/bin/python -m tests.bench.slice_drain [--meetings 300]

Records a ward's meetings over HTTP while the meetings relay is stopped (events wait in the store), then
starts the relay and times until reporting has applied the last one. Prints the drain rate, the HTTP
command rate, and the machine. Uses its own vhost and databases, removed afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import time
import uuid

import psycopg

from services.cluster import Cluster
from tests.integration.helpers import all_published, small_ward
from tests.support import free_port, wait_for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meetings", type=int, default=300)
    args = parser.parse_args()
    vhost = f"chibo-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    prefix = f"chibo_bench{uuid.uuid4().hex[:6]}"
    cluster = Cluster(amqp_uri=f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}", db_prefix=prefix,
                      ports={s: free_port() for s in ("members", "meetings", "reporting")},
                      extra_env={"CHIBO_CATCH_UP_INTERVAL": "3600", "LOG_LEVEL": "WARNING"})
    try:
        cluster.start()
        client = cluster.client()
        ward = small_ward(client, "BN", members_per_cell=10)
        client.wait_caught_up()
        cluster.stop("relay-meetings")
        cells = list(ward["cells"].items())
        started = time.monotonic()
        for i in range(args.meetings):
            cell_id, members = cells[i % len(cells)]
            day = dt.date(2024, 1, 1) + dt.timedelta(days=i // len(cells))
            client.post("meetings", "/meetings", {
                "cell_id": cell_id, "date": day.isoformat(), "start_time": "19:00", "end_time": "21:00",
                "present": members[1:], "absent": [{"member_id": members[0], "excused": False}]})
        http_seconds = time.monotonic() - started
        events = all_published(client, "meetings")
        last = events[-1]["position"]
        started = time.monotonic()
        cluster.spawn("relay-meetings", "relay", "meetings")
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname=f"{prefix}_meetings",
                             autocommit=True) as conn:
            def relayed() -> bool:
                row = conn.execute("SELECT notification_id FROM relay_tracking WHERE application_name = %s",
                                   ("relay:meetings",)).fetchone()
                return row is not None and row[0] >= last

            wait_for(relayed, timeout=120, interval=0.02, what="relay recorded the last position")
        relay_seconds = time.monotonic() - started
        wait_for(lambda: client.positions("reporting")["meetings"] == last, timeout=600,
                 interval=0.02)
        drain = time.monotonic() - started
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"RabbitMQ + PostgreSQL 15 on loopback")
        print(f"HTTP commands: {args.meetings} meetings -> {len(events)} events in {http_seconds:.2f}s "
              f"({args.meetings / http_seconds:.0f} commands/s, {len(events) / http_seconds:.0f} events/s stored)")
        print(f"drain relay -> RabbitMQ -> reporting: {len(events)} events in {drain:.2f}s "
              f"({len(events) / drain:.0f} events/s, includes relay process start-up)")
        print(f"  of which the relay published and recorded everything after {relay_seconds:.2f}s "
              f"({len(events) / relay_seconds:.0f} events/s, per-message publisher confirms)")
    finally:
        cluster.stop()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
            for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)):
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
