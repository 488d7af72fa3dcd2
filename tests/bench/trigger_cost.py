"""The cost of the kept counts' triggers per meeting row written (BENCHMARKS.md, fix 20): the same single-row
updates of a bench store with its triggers on and off (`session_replication_role = replica`), 2,000 in one
transaction each time, rolled back, three times each; microseconds per update, as JSON.

    python -m tests.bench.trigger_cost [--db chibo_bench_district_bench_replay]

A change of `present` fires `meeting_years`' trigger alone; a change of status fires it and
`resolution_reviews`' too.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import psycopg

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
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={args.db}") as conn:
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
