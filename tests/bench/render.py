"""Markdown tables of a `make bench` results file, for BENCHMARKS.md (numbers copied, not retyped).

    .venv/bin/python -m tests.bench.render bench/results/<date>-<time>.json
"""

from __future__ import annotations

import json
import sys
from typing import Any


def md(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render(report: dict[str, Any]) -> str:
    out = [f"Run {report['started']}, {report['seconds'] / 60:.1f} min; machine {report['machine']}; "
           f"load at start {report['load_at_start']}, at end {report['load_at_end']}; code {report['code_version']}."]
    labels = {"raw": "ceiling: rows read raw", "fold": "ceiling: rows decrypted + folded into dicts",
              "rebuild_1": "replay, 1 event per transaction (before)", "rebuild_500": "replay, batches of 500 (after)"}
    for scale, e in report["scales"].items():
        g = e["generated"]
        if "clone" in e:  # the city: queries on a clone of the replayed district (tests/bench/city_clone.py)
            c = e["clone"]
            how = "reused" if c.get("reused") else f"built in {c['seconds']} s"
            out.append(f"\n### {scale} (clone of the district x {c['copies']})\n\n{c['rows']['units']} units,"
                       f" {c['rows']['members']} members, {c['rows']['meeting_roster']} roster rows ({how}; from the"
                       f" district tables {c.get('source_digest', '')}). Figures vs {c['copies']} x the district's"
                       f" expected: {'all equal' if e['figures_equal'] else 'DIFFERENCES'}. Load at start"
                       f" {e['load_at_start']}.\n")
        else:
            out.append(f"\n### {scale}\n\nGenerated: {g['cells']} cells, {g['members']} members, "
                       f"{sum(g['stored_events'].values())} stored events "
                       f"({'reused from an earlier run' if g['reused'] else 'generated in this run'}; generation "
                       f"took {sum(g['seconds'].values()):.0f} s, {g['events_per_second']} events/s). Load at start "
                       f"{e['load_at_start']}.\n")
        if "replay" in e:
            r = e["replay"]
            out.append(md(["", "events", "s", "events/s", "÷ fold ceiling", "peak MB", "Python CPU s",
                           "PostgreSQL CPU s"],
                          [[labels[k], v["events"], v["seconds"], v["events_per_second"], v["ratio_to_fold"],
                            v["peak_rss_mb"], v["python_cpu_seconds"], v["postgres_cpu_seconds"]]
                           for k, v in r["runs"].items()]))
            out.append(f"\nExpected figures vs reporting's roll-up: {r['figures_compared']} figures, "
                       f"{'all equal' if r['figures_equal'] else 'DIFFERENCES: ' + '; '.join(r['differences'])}.\n")
        if "queries" in e:
            out.append(md(["query (20 concurrent readers unless in-process)", "n", "p50 ms", "p95 ms", "p99 ms",
                           "req/s", "errors"],
                          [[k, v["n"], v["p50_ms"], v["p95_ms"], v["p99_ms"], v.get("requests_per_second", ""),
                            v["error_count"]] for k, v in e["queries"].items()]))
        if "ingest" in e:
            i = e["ingest"]
            rows = []
            for name in ("burst", "half_rate"):
                b = i.get(name)
                if b:
                    f = b["freshness"]
                    rows.append([name, b["commands"], b["events"], b["commands_per_second"],
                                 b["events_stored_per_second_http"], b["events_per_second_end_to_end"],
                                 b["seconds_to_caught_up"], f["p50_ms"], f["p99_ms"], b["failures"]])
            out.append("\n" + md(["HTTP run", "commands", "events", "commands/s (HTTP)", "events/s stored (HTTP)",
                                  "events/s end to end", "s to caught up", "freshness p50 ms", "freshness p99 ms",
                                  "refused"], rows))
            s, es, rb = i["single_event"], i.get("eventsourcing", {}), i["rabbitmq"]
            e2e = (i["burst"] or {}).get("events_per_second_end_to_end")
            out.append("\n" + md(["", "rate", "burst end to end ÷ it"], [
                ["single-event commands (close), 8 clients", f"{s['commands_per_second']} commands/s", ""],
                ["ceiling: eventsourcing save alone (same meetings, in-process)",
                 f"{es.get('events_per_second_save_only')} events/s",
                 round(e2e / es["events_per_second_save_only"], 3) if e2e and es.get("events_per_second_save_only")
                 else ""],
                ["ceiling: meetings application in-process (whole command)",
                 f"{es.get('events_per_second_in_process')} events/s",
                 round(e2e / es["events_per_second_in_process"], 3) if e2e and es.get("events_per_second_in_process")
                 else ""],
                ["ceiling: RabbitMQ, batched confirms (500), publish + consume",
                 f"{rb['events_per_second_publish_and_consume']} msgs/s "
                 f"(publish {rb['published_per_second']}/s, consume {rb['consumed_per_second']}/s)",
                 round(e2e / rb["events_per_second_publish_and_consume"], 3) if e2e else ""]]))
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        print(render(json.load(f)))
