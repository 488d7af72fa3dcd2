"""The reporting queries in-process, one reader, on a cached bench store (no HTTP, no cluster); prints JSON.

    python -m tests.bench.query_part time --prefix chibo_bench_district [--target bench_replay] [--times 20]
    python -m tests.bench.query_part digest --prefix chibo_bench_district   # a digest of every answer
    python -m tests.bench.query_part statements --prefix chibo_bench_cityclone --target reporting --scope city

`time` runs the dashboard's roll-up (year, by block) of the first ward (commune), the first district and the
whole city, as tests/bench/cluster_parts.py `in_process` does, on the store `chibo generate` + the replay left
(`<prefix>_<target>`, read only). `digest` answers the roll-up (by block, children, none), every drill-down
figure and the cell-months of the same three scopes in both tree modes and prints a SHA-256 of each: the same
digests before and after a change to the queries mean the same answers, byte for byte (`--chronological`:
the same up to the order of a cell-month's meeting ids, which was the order the rows came in before
rollup.collect read them in date order).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from typing import Any

from services.reporting.compliance import drill
from services.reporting.queries import Queries
from shared.clock import vietnam_today
from shared.config import StoreSettings
from shared.stores import TrackedStore
from tests.bench.cluster_parts import summary


def scopes(sql: Any) -> dict[str, str | None]:
    first = {kind: sql.scalar("SELECT unit_id FROM units WHERE kind = ? ORDER BY code LIMIT 1", (kind,))
             for kind in ("commune", "district")}
    return {"ward": first["commune"], "district": first["district"], "city": None}


def timed(sql: Any, year: str, times: int, warm: bool = False) -> dict[str, Any]:
    """The dashboard's roll-up `times` times per scope; `warm`: the first run of each (which loads the tree
    and lays the cells out) is left out of the figures."""
    out = {}
    for scope, unit in scopes(sql).items():
        latencies = []
        for _ in range(times):
            started = time.perf_counter()
            Queries(sql, vietnam_today()).rollup({"period": year, "by": "block"} | ({"unit": unit} if unit else {}))
            latencies.append(time.perf_counter() - started)
        out[f"in-process dashboard {scope}"] = summary(latencies[1:] if warm and times > 1 else latencies)
    return out


def statements(sql: Any, year: str, scope: str, times: int = 3) -> dict[str, Any]:
    """The dashboard's roll-up of `scope` `times` times; of the last run, its time and each statement's (ms), in
    the order they ran: where a roll-up's time goes between the database and Python."""
    unit = scopes(sql)[scope]
    args = {"period": year, "by": "block"} | ({"unit": unit} if unit else {})
    ran: list[tuple[float, str]] = []
    execute = type(sql).execute

    def timed_execute(self: Any, statement: Any, params: Any = ()) -> Any:
        started = time.perf_counter()
        out = execute(self, statement, params)
        ran.append((time.perf_counter() - started, " ".join(str(statement).split())[:100]))
        return out

    type(sql).execute = timed_execute
    try:
        for _ in range(times):
            ran.clear()
            started = time.perf_counter()
            Queries(sql, vietnam_today()).rollup(args)
            total = time.perf_counter() - started
    finally:
        type(sql).execute = execute
    in_sql = sum(t for t, _ in ran)
    return {"scope": scope, "total_ms": round(total * 1000, 1), "statements_ms": round(in_sql * 1000, 1),
            "python_ms": round((total - in_sql) * 1000, 1),
            "statements": [[round(t * 1000, 1), text] for t, text in ran if t >= 0.001]}


def _chronological(answer: Any, dates: dict[str, str]) -> Any:
    """`answer` with each cell-month's list of meeting ids in date order (cell_months' `meeting_ids`, the
    drill-down's `months[].meetings`)."""
    if isinstance(answer, list):
        return [_chronological(a, dates) for a in answer]
    if not isinstance(answer, dict):
        return answer
    out = {k: _chronological(v, dates) for k, v in answer.items()}
    for key in ("meeting_ids", "meetings"):
        ids = out.get(key)
        if isinstance(ids, list) and all(isinstance(i, str) and i in dates for i in ids):
            out[key] = sorted(ids, key=lambda i: (dates[i], i))
    return out


def digests(sql: Any, year: str, chronological: bool = False) -> dict[str, str]:
    out = {}
    dates = {r["meeting_id"]: r["date"] for r in sql.execute("SELECT meeting_id, date FROM meetings").fetchall()}
    for scope, unit in scopes(sql).items():
        for mode in ("period", "today"):
            base = {"period": year, "tree": mode} | ({"unit": unit} if unit else {})
            answers: dict[str, Any] = {}
            for by in ("block", "children", "none"):
                answers[f"rollup {by}"] = Queries(sql, vietnam_today()).rollup(base | {"by": by})
            for figure in drill.FIGURES:
                answers[f"drill {figure}"] = Queries(sql, vietnam_today()).drill(base | {"figure": figure,
                                                                                       "page_size": "1000"})
            answers["cell_months"] = Queries(sql, vietnam_today()).cell_months(
                {"from": f"{year}-01", "to": f"{year}-12", "tree": mode} | ({"unit": unit} if unit else {}))
            for name, answer in answers.items():
                if chronological:
                    answer = _chronological(answer, dates)
                text = json.dumps(answer, sort_keys=True, default=str, ensure_ascii=False)
                out[f"{scope} {mode} {name}"] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("time", "digest", "statements"))
    parser.add_argument("--scope", choices=("ward", "district", "city"), default="city",
                        help="statements: the dashboard timed")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--target", default="bench_replay")
    parser.add_argument("--year", default=None, help="the generated year (default: the latest meeting's)")
    parser.add_argument("--times", type=int, default=20)
    parser.add_argument("--warm", action="store_true", help="time: leave out each scope's first run")
    parser.add_argument("--chronological", action="store_true",
                        help="digest: each cell-month's meeting ids in date order (to compare with code that listed"
                             " them in the order the rows came)")
    args = parser.parse_args()
    store = TrackedStore(StoreSettings(kind="postgres", pg_db_prefix=args.prefix), args.target, pool_size=1,
                         max_overflow=0)
    try:
        with store.read() as sql:
            year = args.year or str(sql.scalar("SELECT MAX(date) FROM meetings"))[:4]
            result: dict[str, Any] = {"prefix": args.prefix, "year": year, "load": os.getloadavg()}
            if args.what == "time":
                result |= timed(sql, year, args.times, args.warm)
            elif args.what == "statements":
                result |= statements(sql, year, args.scope)
            else:
                result |= digests(sql, year, args.chronological)
    finally:
        store.close()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
