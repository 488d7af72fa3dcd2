"""Replay rate and query times of reporting on a generated year of a district (issue 5).

First generate the sources (once): `chibo generate --scale district --db-prefix chibo_bench` (seed 004's
shape: 417 cells, 9,255 members, ~300,000 published events). Then:

    python -m tests.bench.reporting_replay [--db-prefix chibo_bench] [--target bench_replay] [--sqlite]

It starts the members and meetings services on those stores (plain processes, no relay: a replay only needs
their notification APIs), and measures, on the same machine:
1. the baseline: reading every published event through the notification APIs, applying nothing;
2. `replay.rebuild`: the same read, each event applied through the live consumer's tracked path into a new
   store (PostgreSQL, or SQLite with --sqlite), one transaction per event;
3. the queries on the rebuilt store: the district's year roll-up by block and by base organisation, a quarter,
   the cell-months of the year, the flagged members, a drill-down (median of 5 each).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

from services.reporting import replay
from services.reporting.queries import Queries
from services.runner import machine_key
from shared.config import ChiboSettings, StoreSettings
from shared.consumer import http_fetch_range
from shared.stores import TrackedStore

ROOT = Path(__file__).resolve().parents[2]


def serve(prefix: str, ports: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """members and meetings on the benchmark's stores; health on port + 10 (their operator ports)."""
    env = os.environ | {"CHIBO_STORE": "postgres", "CHIBO_PG_DB_PREFIX": prefix,
                        "MEMBERS_HTTP": f"127.0.0.1:{ports['members']}",
                        "MEETINGS_HTTP": f"127.0.0.1:{ports['meetings']}", "LOG_LEVEL": "WARNING",
                        "MEMBERS_OPS": f"127.0.0.1:{ports['members'] + 10}",
                        "MEETINGS_OPS": f"127.0.0.1:{ports['meetings'] + 10}",
                        "CHIBO_JWT_SECRET": os.environ.get("CHIBO_JWT_SECRET") or secrets.token_urlsafe(48),
                        "AMQP_URI": "pyamqp://guest:guest@127.0.0.1:5672/"}
    procs = [subprocess.Popen([sys.executable, "-m", "services.cli", "run", name], cwd=ROOT, env=env)
             for name in ("members", "meetings")]
    for name, port in ports.items():
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port + 10}/{name}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start")
            time.sleep(0.2)
    return procs


def median_ms(run, times: int = 5) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-prefix", default="chibo_bench")
    parser.add_argument("--target", default="bench_replay")
    parser.add_argument("--sqlite", action="store_true", help="rebuild into SQLite files under var/bench")
    parser.add_argument("--year", default="2025")
    parser.add_argument("--queries-only", action="store_true", help="time the queries on an already rebuilt target")
    args = parser.parse_args()
    store = StoreSettings(kind="sqlite", data_dir=str(ROOT / "var/bench")) if args.sqlite else \
        StoreSettings(kind="postgres", pg_db_prefix=args.db_prefix)
    if args.queries_only:
        time_queries(store, args.target, args.year)
        return
    ports = {"members": 8801, "meetings": 8802}
    sources = {name: f"http://127.0.0.1:{port}/{name}" for name, port in ports.items()}
    procs = serve(args.db_prefix, ports)
    try:
        key = machine_key(StoreSettings(kind="postgres", pg_db_prefix=args.db_prefix), "bench-replay")
        fetch = http_fetch_range(sources, page_size=1000, headers=lambda: {"Authorization": f"Bearer {key}"})
        started = time.perf_counter()
        counted = {s: sum(1 for _ in fetch(s, 0, 2**62)) for s in sources}
        read_s = time.perf_counter() - started
        total = sum(counted.values())
        settings = ChiboSettings(store=store, amqp_uri="memory://", sources=sources)
        result = replay.rebuild(settings, target=args.target, progress=sys.stderr.isatty(), fetch_range=fetch)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"events published: {counted} = {total}")
        print(f"baseline, read only (notification APIs, pages of 1000): {read_s:.1f} s, {total / read_s:.0f} events/s")
        print(f"rebuild into {'SQLite' if args.sqlite else 'PostgreSQL'} ({args.target}): {result.seconds:.1f} s, "
              f"{result.events / result.seconds:.0f} events/s (applied {result.applied}, "
              f"dead-lettered {result.dead_lettered})")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    time_queries(store, args.target, args.year)


def time_queries(store: StoreSettings, target: str, year: str) -> None:
    rebuilt = TrackedStore(store, target)
    try:
        with rebuilt.read() as sql:
            today = dt.date(int(year) + 1, 1, 15)
            district = next(u.unit_id for u in Queries(sql, today).tree.units.values() if u.kind == "district")

            def q(name: str, **params: str):
                return lambda: getattr(Queries(sql, today), name)(params)

            rows = Queries(sql, today).rollup({"unit": district, "period": year, "by": "block"}, "vi")
            print("report:", rows["report"][0])
            timings = {
                "year roll-up by block": q("rollup", unit=district, period=year, by="block"),
                "year roll-up by base organisation": q("rollup", unit=district, period=year, by="children"),
                "quarter roll-up": q("rollup", unit=district, period=f"{year}-Q2"),
                "cell-months of the year": q("cell_months", unit=district,
                                             **{"from": f"{year}-01", "to": f"{year}-12"}),
                "flagged members of the year": q("member_years", unit=district, year=year, flagged="1"),
                "drill-down: meetings behind attendance": q("drill", unit=district, period=year, figure="attendance",
                                                            page_size="50"),
            }
            for label, run in timings.items():
                print(f"{label}: {median_ms(run):.0f} ms (median of 5)")
    finally:
        rebuilt.close()


if __name__ == "__main__":
    main()
