"""`make bench` (issue 10): city-scale benchmarks, each beside the stack's own ceiling measured in the same run.

    .venv/bin/python -m tests.bench.city [--scales ward,district,city] [--seed 4]
        [--parts replay,queries,ingest] [--out bench/results]

For each scale:
1. the generated year (`chibo generate`, PostgreSQL databases chibo_bench_<scale>_*): reused when a previous run
   left it with the same seed, scale and code version (services/synthetic/command.py code_version), else
   generated now (timed);
2. replay: reporting rebuilt from it (one transaction per event as live, at ward scale only, and in batches),
   beside the ceilings: the same rows read raw, and decrypted and folded into dicts; peak memory; CPU of the
   Python process and of its PostgreSQL backends. Then the rebuilt roll-up is compared with the generator's
   expected figures: any difference fails the run (exit 1);
3. queries and 4. burst ingest (tests/bench/cluster_parts.py) on a copy of the stores served by the cluster.
The city scale is the queries only, on a clone of the district's replayed store (48 copies under one root,
tests/bench/city_clone.py), checked against 48 x the district's expected figures: generating and replaying a
city year on this machine takes hours, so its generation and replay are extrapolated, not measured.
Prints a table per part and writes everything to <out>/<date>-<time>.json, with the machine and its load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from services.synthetic.command import code_version
from shared.config import StoreSettings
from tests.bench import pg

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "var" / "bench-cache"
POOLS = {"CHIBO_PG_POOL_SIZE": "2", "CHIBO_PG_MAX_OVERFLOW": "2"}  # the server's 100 connections are shared
TARGET = "bench_replay"


def prefix_of(scale: str) -> str:
    return f"chibo_bench_{scale}"


def load() -> str:
    return Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else ""


def machine() -> dict[str, Any]:
    with pg.connect("postgres") as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "0")
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "memory_gb": round(int(mem) / 1024 / 1024, 1), "python": platform.python_version(),
            "postgresql": server, "kernel": platform.release()}


def head(prefix: str, source: str) -> int:
    try:
        with pg.connect(f"{prefix}_{source}") as conn:
            return int(conn.execute(f"SELECT COALESCE(MAX(notification_id), 0) FROM {source}_events")
                       .fetchone()[0])  # type: ignore[index]
    except psycopg.OperationalError:
        return -1


def ensure_generated(scale: str, seed: int) -> dict[str, Any]:
    """The generated year of `scale`: the cached one if it is still what this code would generate, else anew."""
    path = CACHE / f"{scale}-{seed}.json"
    prefix = prefix_of(scale)
    if path.exists():
        manifest = json.loads(path.read_text(encoding="utf-8"))
        stored = {s: head(prefix, s) for s in ("members", "meetings")}
        if manifest.get("code_version") == code_version() and stored == manifest["stored_events"]:
            manifest["reused"] = True
            print(f"[{scale}] reusing the generated year in {prefix}_* (seed {seed}, code {code_version()}; "
                  f"generated in {sum(manifest['seconds'].values()):.0f} s)", flush=True)
            return manifest
        print(f"[{scale}] cached year is stale (code or stores changed): generating again", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"[{scale}] generating (seed {seed}) into {prefix}_* ...", flush=True)
    subprocess.run([sys.executable, "-m", "services.cli", "generate", "--scale", scale, "--seed", str(seed),
                    "--db-prefix", prefix, "--expected", str(path), "--replace"], cwd=ROOT, check=True,
                   env=os.environ | POOLS)
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["reused"] = False
    return manifest


def part(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "tests.bench.replay_part", *args], cwd=ROOT, check=True,
                         env=os.environ | POOLS, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def replay_bench(scale: str, manifest: dict[str, Any], one_by_one: bool) -> dict[str, Any]:
    from services.synthetic.check import differences, reporting_figures

    prefix = prefix_of(scale)
    runs = {"raw": part("raw", "--prefix", prefix), "fold": part("fold", "--prefix", prefix)}
    if one_by_one:
        runs["rebuild_1"] = part("rebuild", "--prefix", prefix, "--target", TARGET, "--batch", "1")
    runs["rebuild_500"] = part("rebuild", "--prefix", prefix, "--target", TARGET, "--batch", "500")
    expected = manifest["expected"]
    actual = reporting_figures(StoreSettings(kind="postgres", pg_db_prefix=prefix), TARGET, manifest["year"],
                               dt.date.fromisoformat(expected["report_date"]))
    diffs = list(differences(expected, actual))
    fold = runs["fold"]["events_per_second"]
    for run in runs.values():
        run["ratio_to_fold"] = round(run["events_per_second"] / fold, 4) if fold else None
    return {"runs": runs, "figures_equal": not diffs, "differences": diffs,
            "figures_compared": sum(len(g) for g in [expected["city"], *expected["by_block"].values(),
                                                      *expected["by_district"].values()])}


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
              for r in cells]
    return "\n".join(lines)


def print_replay(scale: str, result: dict[str, Any]) -> None:
    labels = {"raw": "ceiling: rows read raw", "fold": "ceiling: rows decrypted + folded into dicts",
              "rebuild_1": "reporting replay, 1 event per transaction (as live; before)",
              "rebuild_500": "reporting replay, batches of 500 (after)"}
    rows = [[labels[k], r["events"], f"{r['seconds']:.1f}", r["events_per_second"], r["peak_rss_mb"],
             r["python_cpu_seconds"], "" if r["postgres_cpu_seconds"] is None else r["postgres_cpu_seconds"],
             f"{r['ratio_to_fold']:.3f}"] for k, r in result["runs"].items()]
    print(table(f"\nReplay, {scale} (PostgreSQL)", ["", "events", "s", "events/s", "peak MB", "py CPU s",
                                                      "pg CPU s", "÷ fold"], rows))
    verdict = "EQUAL" if result["figures_equal"] else f"{len(result['differences'])} DIFFER"
    print(f"generator's expected figures vs reporting's roll-up ({result['figures_compared']} figures): {verdict}")
    for line in result["differences"]:
        print(f"  {line}")


def _get(d: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return ""
        d = d[key]
    return d


def print_growth(scales: dict[str, Any]) -> None:
    """One row per scale: how each cost grows with the work."""
    rows = []
    for scale, e in scales.items():
        g, r, q, i = e.get("generated", {}), e.get("replay", {}).get("runs", {}), e.get("queries", {}), \
            e.get("ingest", {})
        burst = i.get("burst") or {}
        rabbit = _get(i, "rabbitmq", "events_per_second_publish_and_consume")
        e2e = burst.get("events_per_second_end_to_end")
        stored = sum(g.get("stored_events", {}).values())
        rows.append([scale, g.get("cells", ""), stored, g.get("events_per_second", ""),
                     _get(r, "rebuild_500", "events_per_second"), _get(r, "fold", "events_per_second"),
                     _get(r, "rebuild_500", "peak_rss_mb"), _get(q, "in-process dashboard ward", "p50_ms"),
                     _get(q, "in-process dashboard city", "p50_ms"), _get(q, "dashboard ward", "p95_ms"),
                     _get(q, "dashboard district", "p95_ms"), _get(q, "dashboard city", "p95_ms"),
                     burst.get("events", ""), e2e or "", rabbit,
                     f"{e2e / rabbit:.3f}" if e2e and rabbit else "", _get(burst, "freshness", "p99_ms"),
                     _get(i, "single_event", "commands_per_second")])
    print(table("\nGrowth (PostgreSQL; each ceiling measured in the same run)",
                ["scale", "cells", "stored events", "generated/s", "replay/s", "fold ceiling/s", "replay MB",
                 "1 reader ward ms", "1 reader city ms", "p95 ward ms", "p95 district ms", "p95 city ms",
                 "burst events", "burst e2e/s", "RabbitMQ/s",
                 "e2e÷RabbitMQ", "fresh p99 ms", "single cmd/s"], rows))


def latest_district_digest() -> str:
    """The tables digest of the district's replay in the newest results file that has one ('' for none)."""
    for path in sorted((ROOT / "bench" / "results").glob("*.json"), reverse=True):
        report = json.loads(path.read_text(encoding="utf-8"))
        digest = _get(report, "scales", "district", "replay", "runs", "rebuild_500", "tables_digest")
        if digest:
            return str(digest)
    return ""


def city_bench(seed: int, parts: set[str], district: dict[str, Any]) -> dict[str, Any]:
    """The city's queries on a clone of the replayed district (tests/bench/city_clone.py: 48 copies, checked
    against 48 x the generator's district figures); generating and replaying a city here takes hours."""
    from tests.bench import city_clone, cluster_parts

    manifest = json.loads((CACHE / f"district-{seed}.json").read_text(encoding="utf-8"))
    # the district replay of this run, else of the latest run that replayed it (`--scales city` alone)
    source = _get(district, "replay", "runs", "rebuild_500", "tables_digest") or latest_district_digest()
    print(f"\n[city] a clone of the replayed district ({source or 'digest unknown'}), {city_clone.COPIES} copies,"
          f" in {city_clone.TARGET} ...", flush=True)
    clone = city_clone.ensure(city_clone.COPIES, source)
    diffs = city_clone.check(city_clone.COPIES)
    how = "reused (built from the same district tables)" if clone["reused"] else f"built in {clone['seconds']} s"
    print(f"[city] {clone['rows']['units']} units, {clone['rows']['meeting_roster']} roster rows, {how};"
          f" figures vs {city_clone.COPIES} x the district's expected:"
          f" {'EQUAL' if not diffs else f'{len(diffs)} DIFFER'}", flush=True)
    entry: dict[str, Any] = {"clone": clone, "figures_equal": not diffs, "differences": diffs,
                             "generated": {"cells": manifest["cells"] * city_clone.COPIES, "stored_events": {}}}
    if "queries" in parts:
        entry |= cluster_parts.run("city", city_clone.PREFIX, "reporting", manifest, {"queries"}, half_rate=False)
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="ward,district,city",
                        help="city: the queries on a clone of the replayed district (tests/bench/city_clone.py)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--parts", default="replay,queries,ingest")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    scales = [s for s in args.scales.split(",") if s]
    parts = set(args.parts.split(","))
    started = time.perf_counter()
    report: dict[str, Any] = {"started": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
                              "load_at_start": load(), "command": " ".join(sys.argv), "seed": args.seed,
                              "code_version": code_version(), "scales": {}}
    print(f"machine: {report['machine']}; load {report['load_at_start']}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{dt.datetime.now():%Y%m%d-%H%M}.json"

    def save() -> None:  # after every part: a run cut short still leaves what it measured
        report["seconds"] = round(time.perf_counter() - started, 1)
        report["load_at_end"] = load()
        path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    failed = False
    for scale in scales:
        entry: dict[str, Any] = {"load_at_start": load()}
        report["scales"][scale] = entry
        if scale == "city":  # after the district: its replayed store is what the clone copies
            try:
                entry |= city_bench(args.seed, parts, report["scales"].get("district", {}))
                failed |= not entry["figures_equal"]
            except Exception as exc:  # recorded; the other scales' figures still count
                entry["city_error"] = f"{type(exc).__name__}: {exc}"
                print(f"[city] FAILED: {entry['city_error']}", flush=True)
                failed = True
            entry["load_at_end"] = load()
            save()
            continue
        manifest = ensure_generated(scale, args.seed)
        entry["generated"] = {k: manifest[k] for k in ("cells", "members", "districts", "stored_events", "seconds",
                                                       "events_per_second", "reused", "commands")}
        if "replay" in parts:
            entry["replay"] = replay_bench(scale, manifest, one_by_one=scale == "ward")
            print_replay(scale, entry["replay"])
            failed |= not entry["replay"]["figures_equal"]
            save()
        if parts & {"queries", "ingest"}:
            from tests.bench import cluster_parts

            try:
                entry |= cluster_parts.run(scale, prefix_of(scale), TARGET, manifest, parts,
                                           half_rate=scale == "ward")
            except Exception as exc:  # recorded, and the run goes on: the other parts' figures still count
                entry["cluster_error"] = f"{type(exc).__name__}: {exc}"
                print(f"[{scale}] queries/ingest FAILED: {entry['cluster_error']}", flush=True)
                failed = True
        entry["load_at_end"] = load()
        save()
    print_growth(report["scales"])
    save()
    print(f"\n{report['seconds']:.0f} s in all; results in {path}; load {report['load_at_end']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
