"""The burst ingest alone (tests/bench/cluster_parts.py: a month of meetings from concurrent clients, events/s
until reporting has applied them, freshness), on the stores tests/bench/city.py generated and cached, plus
what reporting's consumer did meanwhile (batches, seconds, from its /metrics). For comparing consumer changes
in a minute instead of a whole `make bench`; no half-rate run and no ceilings.

    .venv/bin/python -m tests.bench.burst_part [--scale ward] [--seed 4] [--cache var/bench-cache]

CHIBO_CONSUMER_BATCH=1 in the environment: the services apply one event per transaction (the old way).
Its copy of the stores is chibo_bench_run_<scale>_burst_* (dropped afterwards), not the full benchmark's.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

import requests

from services.cluster import Cluster
from tests.bench import cluster_parts

METRICS = {
    "batches": "chibo_consumer_duration_seconds_count",
    "seconds": "chibo_consumer_duration_seconds_sum",
}


def consumer_counts(cluster: Cluster) -> dict[str, float]:
    """Reporting's meetings consumer: batches taken up, seconds spent on them, events applied (so far)."""
    text = requests.get(f"{cluster.ops_urls['reporting']}/reporting/metrics", timeout=10).text

    def sample(name: str, outcome: str) -> float:
        found = re.search(rf'^{name}\{{consumer="reporting",outcome="{outcome}",source="meetings"\}} (\S+)$', text,
                          re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    counts = {key: sample(name, "ack") for key, name in METRICS.items()}
    counts["applied"] = sample("chibo_consumer_events_total", "applied")
    return counts


def burst_only(scale: str, cluster: Cluster, key: str, run_prefix: str, amqp_uri: str, manifest: dict[str, Any],
               half_rate: bool) -> dict[str, Any]:
    january = cluster_parts.sheets(run_prefix, 1, manifest["year"] + 1, manifest["seed"])
    before = consumer_counts(cluster)
    burst = cluster_parts.submit(cluster, key, run_prefix, january, rate=None)
    after = consumer_counts(cluster)
    burst.pop("meeting_ids")
    consumer = {k: round(after[k] - before[k], 3) for k in after}
    if consumer["applied"]:
        consumer["ms_per_event"] = round(1000 * consumer["seconds"] / consumer["applied"], 2)
    burst["consumer"] = consumer
    return {"burst": burst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="ward")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--cache", default=str(Path(__file__).resolve().parents[2] / "var" / "bench-cache"))
    args = parser.parse_args()
    manifest = json.loads((Path(args.cache) / f"{args.scale}-{args.seed}.json").read_text(encoding="utf-8"))
    cluster_parts.ingest = burst_only  # type: ignore[assignment]
    started = time.perf_counter()
    out = cluster_parts.run(f"{args.scale}_burst", f"chibo_bench_{args.scale}", "bench_replay", manifest,
                            {"ingest"}, half_rate=False)
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
