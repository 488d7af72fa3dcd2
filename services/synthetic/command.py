"""`chibo generate`: write a synthetic year into the services' stores, and the figures it must give.

    chibo generate --scale ward|district|city|nation --seed N [--year 2025] [--store postgres|sqlite]
        [--db-prefix chibo_gen_<scale>] [--data-dir var/generate/<scale>] [--expected FILE] [--replace] [--check]

It refuses to add to existing stores unless --replace (then drops them first). --check then rebuilds
reporting from the stores (as `chibo replay` does) into <prefix>_generated_check and compares its roll-up with
the expected figures: exit 0 when every figure is equal, 1 naming each one that differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from shared.config import StoreSettings

SERVICES = ("members", "meetings", "reporting", "generated_check")
CHECK_TARGET = "generated_check"


def add_parser(sub: Any) -> None:
    from services.synthetic.scales import SCALES

    p = sub.add_parser("generate", help="a synthetic city's year in the services' stores, with its expected figures")
    p.add_argument("--scale", choices=tuple(SCALES), default="ward")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--year", type=int, default=2025)
    p.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--db-prefix", default=None, help="PostgreSQL databases <prefix>_<service> "
                   "(default: chibo_gen_<scale>)")
    p.add_argument("--data-dir", default=None, help="SQLite files, with --store sqlite (default: var/generate/<scale>)")
    p.add_argument("--expected", default=None, help="where to write the expected figures "
                   "(default: var/generate/<scale>-<seed>.expected.json)")
    p.add_argument("--replace", action="store_true", help="drop the stores first if they exist")
    p.add_argument("--check", action="store_true", help="then rebuild reporting and compare (exit 1 on a difference)")
    p.add_argument("--durable", action="store_true", help="PostgreSQL: wait for each commit to reach the disk "
                   "(default: synchronous_commit=off for this process's connections only)")
    p.set_defaults(func=main)


def settings_for(args: argparse.Namespace) -> StoreSettings:
    return StoreSettings(kind=args.store, data_dir=args.data_dir or f"var/generate/{args.scale}",
                         pg_db_prefix=args.db_prefix or f"chibo_gen_{args.scale}")


def existing(settings: StoreSettings) -> list[str]:
    if settings.kind == "postgres":
        with _admin(settings) as conn:
            names = [settings.dbname(s) for s in SERVICES]
            return [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,))]
    return [str(Path(settings.data_dir) / s) for s in SERVICES if (Path(settings.data_dir) / s).exists()]


def drop(settings: StoreSettings, found: list[str]) -> None:
    if settings.kind == "postgres":
        with _admin(settings) as conn:
            for name in found:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    else:
        for path in found:
            shutil.rmtree(path)


def _admin(settings: StoreSettings) -> psycopg.Connection[Any]:
    return psycopg.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                           password=settings.pg_password or None, dbname="postgres", autocommit=True)


def generate(settings: StoreSettings, scale: str, seed: int, year: int) -> dict[str, Any]:
    """Write the year; return the manifest: what was generated, how fast, and the expected figures."""
    from services.synthetic.generator import CityYear
    from services.synthetic.scales import SCALES

    build = CityYear(settings, SCALES[scale], year, seed)
    try:
        build.run()
        events = {"members": build.members.recorder.max_notification_id() or 0,
                  "meetings": build.meetings.recorder.max_notification_id() or 0}
        city = str(build.city)
    finally:
        build.close()
    seconds = sum(build.tally.seconds.values())
    return {"scale": scale, "seed": seed, "year": year, "city_id": city,
            "cells": len(build.cells), "members": build.admitted, "districts": len(build.districts),
            "stored_events": events, "seconds": build.tally.seconds,
            "events_per_second": round(sum(events.values()) / seconds) if seconds else None,
            "commands": dict(build.tally.commands.most_common()),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "expected": build.expected_json()}


def check(settings: StoreSettings, manifest: dict[str, Any]) -> tuple[list[str], Any]:
    """(differences, replay result): reporting rebuilt from the stores against the expected figures."""
    from services.synthetic.check import differences, rebuild, reporting_figures

    result = rebuild(settings, CHECK_TARGET)
    expected = manifest["expected"]
    actual = reporting_figures(settings, CHECK_TARGET, manifest["year"], dt.date.fromisoformat(expected["report_date"]))
    return list(differences(expected, actual)), result


def main(args: argparse.Namespace) -> int:
    if args.seed < 0:
        print("chibo generate: --seed phải là số không âm / must not be negative", file=sys.stderr)
        return 2
    if not 2000 <= args.year <= dt.date.today().year - 1:
        print(f"chibo generate: --year phải là một năm đã qua / must be a past year, not {args.year}", file=sys.stderr)
        return 2
    if args.store == "postgres" and not args.durable:  # libpq reads it for every connection this process opens
        os.environ["PGOPTIONS"] = (os.environ.get("PGOPTIONS", "") + " -c synchronous_commit=off").strip()
    settings = settings_for(args)
    found = existing(settings)
    if found and not args.replace:
        print(f"chibo generate: đã có / already exists: {', '.join(found)} (--replace to drop them)", file=sys.stderr)
        return 2
    drop(settings, found)
    started = time.perf_counter()
    manifest = generate(settings, args.scale, args.seed, args.year)
    manifest["store"] = settings.kind
    path = Path(args.expected or f"var/generate/{args.scale}-{args.seed}.expected.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    total = sum(manifest["stored_events"].values())
    print(f"{args.scale} (seed {args.seed}, {args.year}): {manifest['cells']} cells, {manifest['members']} members, "
          f"{total} stored events in {time.perf_counter() - started:.0f} s ({manifest['events_per_second']}/s); "
          f"expected figures in {path}")
    if not args.check:
        return 0
    diffs, result = check(settings, manifest)
    print(f"reporting rebuilt: {result.events} events in {result.seconds:.1f} s ({result.events_per_second:.0f}/s)")
    for line in diffs:
        print(f"DIFFERS: {line}")
    print("figures: reporting equals the generator's" if not diffs else f"figures: {len(diffs)} differ")
    return 1 if diffs else 0
