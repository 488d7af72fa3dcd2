"""How long one roll-up keeps a serving process's other greenthreads waiting (BENCHMARKS.md, fix 24).

    python -m tests.bench.hub_stall [--prefix chibo_bench_cityclone] [--target reporting] [--unit <id>]

The process is set up as `chibo run` sets up a service (shared/green.serve_green: eventlet patched, psycopg
on the hub, the cooperative pause installed), and the answer is computed holding the collector, as the
service computes every answer (service._answer). A ticker greenthread asks for 5 ms sleeps while the roll-up (the
dashboard's: a year, by block) runs in the main one, first cold (the tree loaded, the cells laid out), then
warm; the longest gap between two ticks is the longest a concurrent request (a health check, a kept
dashboard, the broker's heartbeat) would have waited. Prints one line per run. `--figure`: a drill-down's
facts instead (tally.py's roll-up and rollup.py's facts pause in their loops alike).
"""

from __future__ import annotations

from shared.green import serve_green

serve_green()  # before anything imports psycopg

import argparse  # noqa: E402
import time  # noqa: E402

import eventlet  # noqa: E402

from services.reporting.queries import Queries  # noqa: E402
from shared.clock import vietnam_today  # noqa: E402
from shared.config import StoreSettings  # noqa: E402
from shared.cooperative import collector_held  # noqa: E402
from shared.stores import TrackedStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="chibo_bench_cityclone")
    parser.add_argument("--target", default="reporting")
    parser.add_argument("--unit", default=None, help="a unit's id (default: the whole city)")
    parser.add_argument("--year", default="2025")
    parser.add_argument("--figure", default=None, help="a drill-down figure (e.g. meetings) instead of the roll-up")
    args = parser.parse_args()
    store = TrackedStore(StoreSettings(kind="postgres", pg_db_prefix=args.prefix), args.target, pool_size=2,
                         max_overflow=0)
    query = {"period": args.year, "by": "block"} | ({"unit": args.unit} if args.unit else {})
    try:
        for run in ("cold", "warm"):
            gaps: list[float] = []
            done = eventlet.event.Event()

            def ticker(gaps: list[float] = gaps, done: eventlet.event.Event = done) -> None:
                last = time.perf_counter()
                while not done.ready():
                    eventlet.sleep(0.005)
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now

            tick = eventlet.spawn(ticker)
            with store.read() as sql, collector_held():  # as the service computes every answer
                started = time.perf_counter()
                q = Queries(sql, vietnam_today())
                q.drill(query | {"figure": args.figure}) if args.figure else q.rollup(query)
                took = time.perf_counter() - started
            done.send(True)
            tick.wait()
            gaps.sort()
            print(f"{run}: roll-up {took * 1000:.0f} ms; {len(gaps)} ticks, longest gap {gaps[-1] * 1000:.0f} ms,"
                  f" p99 {gaps[int(len(gaps) * 0.99)] * 1000:.1f} ms", flush=True)
    finally:
        store.close()


if __name__ == "__main__":
    main()
