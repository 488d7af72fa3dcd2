"""One measured part of the replay benchmark, in its own process (so its peak memory is its own); prints JSON.

    python -m tests.bench.replay_part rebuild --prefix chibo_bench_ward --target bench_replay [--batch 500]
    python -m tests.bench.replay_part raw --prefix chibo_bench_ward       # the ceiling: rows read, nothing else
    python -m tests.bench.replay_part fold --prefix chibo_bench_ward      # rows decrypted, decoded, folded

`rebuild` is reporting's replay (services/reporting/replay.py via services/synthetic/check.py: the logs read
in-process, the projection applied in batches); `raw` reads the same rows of the two event stores with a
server-side cursor; `fold` also decrypts each (AES-GCM, the stores' cipher), decodes its JSON and folds it
into dicts (events per topic, the latest version per stream): the least any replay of these rows must do.
Each reports events, seconds, peak RSS, this process's CPU seconds and the CPU seconds of the PostgreSQL
backends it used (read from /proc before it closes them), so the split over the two cores shows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
from collections import Counter
from typing import Any

import psycopg

from tests.bench import pg

SOURCES = ("members", "meetings")


def backend_cpu(conn: psycopg.Connection[Any], dbnames: list[str]) -> float:
    """CPU seconds (user + system) so far of every PostgreSQL backend connected to `dbnames` (/proc)."""
    pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)", (dbnames,))]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)
        except (OSError, IndexError, ValueError):
            continue
    return total


def rows(prefix: str) -> Any:
    for source in SOURCES:
        with pg.connect(f"{prefix}_{source}") as conn, \
                conn.cursor(name="bench") as cursor:
            cursor.itersize = 5000
            cursor.execute(f"SELECT notification_id, originator_id, originator_version, topic, state"
                           f" FROM {source}_events ORDER BY notification_id")
            yield from cursor


def raw(prefix: str) -> dict[str, Any]:
    count = size = 0
    for row in rows(prefix):
        count += 1
        size += len(row[4])
    return {"events": count, "bytes": size}


def fold(prefix: str) -> dict[str, Any]:
    from eventsourcing.cryptography import AESCipher
    from eventsourcing.utils import Environment

    from shared.config import StoreSettings
    from shared.pii import key_settings

    cipher = AESCipher(Environment(env={"CIPHER_KEY": key_settings(StoreSettings(kind="postgres")).cipher}))
    topics: Counter[str] = Counter()
    latest: dict[Any, int] = {}
    count = fields = 0
    for _, originator, version, topic, state in rows(prefix):
        data = json.loads(cipher.decrypt(bytes(state)))
        topics[topic.rsplit(".", 1)[-1]] += 1
        latest[originator] = max(version, latest.get(originator, 0))
        fields += len(data)
        count += 1
    return {"events": count, "streams": len(latest), "topics": len(topics), "fields": fields}


def rebuild(prefix: str, target: str, batch: int, ahead: bool) -> dict[str, Any]:
    from services.synthetic.check import rebuild as rebuild_reporting
    from shared.config import StoreSettings

    result = rebuild_reporting(StoreSettings(kind="postgres", pg_db_prefix=prefix), target, batch=batch, ahead=ahead)
    digests = json.dumps(result.snapshot.digests, sort_keys=True)
    return {"events": result.events, "applied": result.applied, "dead_lettered": len(result.dead_lettered),
            "replay_seconds": result.seconds, "tables_digest": hashlib.sha256(digests.encode()).hexdigest()[:16]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("rebuild", "raw", "fold"))
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--target", default="bench_replay")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--no-ahead", dest="ahead", action="store_false",
                        help="read the logs in this process, not in a forked child (shared/readahead.py)")
    args = parser.parse_args()
    os.environ["PGOPTIONS"] = "-c synchronous_commit=off"  # as `chibo replay` sets for its target database
    dbnames = [f"{args.prefix}_{s}" for s in (*SOURCES, args.target)]
    started = time.perf_counter()
    backends = None
    if args.part == "rebuild":
        # the replay's backends must be read before its pool closes them: sampled from a thread, on one
        # connection of its own (the server's hundred connections are shared)
        import threading

        samples: list[float] = []
        done = threading.Event()
        watcher = pg.connect("postgres", autocommit=True)

        def sample() -> None:
            while not done.wait(0.5):
                samples.append(backend_cpu(watcher, dbnames))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            out = rebuild(args.prefix, args.target, args.batch, args.ahead and args.batch > 1)
        finally:
            done.set()
            sampler.join()
            watcher.close()
        backends = max(samples, default=0.0)
    else:
        out = raw(args.prefix) if args.part == "raw" else fold(args.prefix)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    reader = resource.getrusage(resource.RUSAGE_CHILDREN)  # the read-ahead child, when there is one
    out |= {"part": args.part, "batch": args.batch if args.part == "rebuild" else None,
            "ahead": args.part == "rebuild" and args.ahead and args.batch > 1, "seconds": round(seconds, 3),
            "events_per_second": round(out["events"] / seconds) if seconds else None,
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "reader_peak_rss_mb": round(reader.ru_maxrss / 1024, 1),
            "python_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "reader_cpu_seconds": round(reader.ru_utime + reader.ru_stime, 2),
            "postgres_cpu_seconds": None if backends is None else round(backends, 2)}
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
