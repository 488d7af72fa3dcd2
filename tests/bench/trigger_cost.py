"""The cost of the kept counts' triggers per meeting row written (BENCHMARKS.md, fix 20): the same single-row
updates of a bench store with its triggers on and off (`session_replication_role = replica`), 2,000 in one
transaction each time, rolled back, three times each; microseconds per update, as JSON.

    python -m tests.bench.trigger_cost [--db chibo_bench_district_bench_replay]

A change of status fires `resolution_reviews`' trigger; a change of `present` fires none on the current schema
(under fix 20, reverted, it fired `meeting_years`' recount, which is what BENCHMARKS.md quotes), so its on/off
pair is the baseline of a trigger that is not there.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import psycopg

from tests.bench import pg

UPDATES = {
    "present": "UPDATE meetings SET present = present + 1 WHERE meeting_id = %s",
    "status": "UPDATE meetings SET status = CASE status WHEN 'held' THEN 'closed' ELSE 'held' END"
              " WHERE meeting_id = %s",
}


def per_update(conn: psycopg.Connection[Any], ids: list[str], statement: str, triggers: bool) -> float:
    """Microseconds per update of `statement` over `ids`, in one transaction rolled back."""
    if not triggers:
        conn.execute("SET LOCAL session_replication_role = replica")
    started = time.perf_counter()
    for meeting_id in ids:
        conn.execute(statement, (meeting_id,))
    elapsed = time.perf_counter() - started
    conn.rollback()
    return round(elapsed / len(ids) * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="chibo_bench_district_bench_replay")
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    with pg.connect(args.db) as conn:
        ids = [r[0] for r in conn.execute("SELECT meeting_id FROM meetings WHERE status IN ('held', 'closed')"
                                          " ORDER BY meeting_id LIMIT %s", (args.rows,))]
        conn.rollback()
        out: dict[str, Any] = {"db": args.db, "rows": len(ids)}
        for name, statement in UPDATES.items():
            out[name] = {"triggers on": [], "triggers off": []}
            for _ in range(3):
                for triggers in (True, False):
                    out[name][f"triggers {'on' if triggers else 'off'}"].append(
                        per_update(conn, ids, statement, triggers))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
