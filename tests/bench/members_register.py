"""Members service at ward and district scale: command rate and read-model query times, on SQLite and PostgreSQL.

    .venv/bin/python -m tests.bench.members_register [--cells 13 --members 600] [--store sqlite|postgres|both]

Also imports a generated register CSV of `--import-rows` members into the same ward (services.members.
register_import: dry run, apply, and the idempotent re-apply), timing each.

Seed 001's ward is ~600 members in 13 cells; seed 004's district is 417 cells and 9,255 members
(`--cells 417 --members 9255`). Builds the register through MembersApplication (the same code the HTTP
service runs, without HTTP), then times: admissions per second; the first query, which brings the read model
up to date from the notification log (a fresh replica, or a restart); then the tree, the health of every cell,
and one cell's roster, each the median of 5 runs once caught up. Prints one line per store and the machine.
PostgreSQL databases are created under a private prefix and dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
import uuid

import psycopg

from services.members.application import MembersApplication
from services.members.register_import import import_register
from shared.config import StoreSettings
from shared.stores import TrackedStore, event_store_env

TODAY = dt.date(2026, 11, 1)


def timed(fn, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def register_csv(rows: int, cells: int) -> bytes:
    lines = ["STT,Mã đảng viên,Họ và tên,Ngày sinh,Chi bộ,Ngày vào Đảng,Ngày chính thức"]
    for i in range(rows):
        lines.append(f"{i + 1},I{i:06d},Trần Thị Ánh {i},17/05/1980,W-{i % cells},03/02/2010,03/02/2011")
    return ("\n".join(lines) + "\n").encode()


def import_times(app: MembersApplication, rows: int, cells: int) -> dict[str, float]:
    data = register_csv(rows, cells)
    out = {}
    for label, dry in (("import_check_s", True), ("import_apply_s", False), ("import_again_s", False)):
        started = time.perf_counter()
        report = import_register(app, data, ward="W", dry_run=dry, skip_invalid=False, by="bench",
                                 correlation_id=None)
        out[label] = time.perf_counter() - started
        assert not report.problems, report.problems[:3]
    return out


def build(settings: StoreSettings, cells: int, members: int, import_rows: int) -> dict[str, float]:
    views = TrackedStore(settings, "members", name="views")
    app = MembersApplication(event_store_env(settings, "members"), today=lambda: TODAY, views_store=views)
    ward = app.create_unit(kind="ward", name="Đảng bộ phường", code="W", parent_id=None, block=None,
                           effective_from=dt.date(2000, 1, 1), by="bench")
    cell_ids = [app.create_unit(kind="cell", name=f"Chi bộ {i}", code=f"W-{i}", parent_id=ward.id,
                                block="residential", effective_from=dt.date(2000, 1, 1), by="bench").id
                for i in range(cells)]
    started = time.perf_counter()
    for i in range(members):
        app.admit_member(code=f"M{i:06d}", full_name=f"Nguyễn Văn {i}", cell_id=cell_ids[i % cells],
                         admitted_on=dt.date(2010, 1, 1), status="official", official_since=dt.date(2011, 1, 2),
                         by="bench")
    admit_s = time.perf_counter() - started
    fresh = MembersApplication(event_store_env(settings, "members"), today=lambda: TODAY,
                               views_store=TrackedStore(settings, "members", name="views_fresh"))
    started = time.perf_counter()
    fresh.tree(TODAY)
    catch_up_s = time.perf_counter() - started
    out = {
        "admissions_per_s": members / admit_s,
        "catch_up_s": catch_up_s,
        "tree_ms": 1000 * timed(lambda: fresh.tree(TODAY)),
        "health_ms": 1000 * timed(lambda: fresh.cell_health(None, TODAY)),
        "roster_ms": 1000 * timed(lambda: fresh.roster(cell_ids[0], TODAY)),
    }
    out |= import_times(app, import_rows, cells)
    for a in (app, fresh):
        a.close()
    views.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=13)
    parser.add_argument("--members", type=int, default=600)
    parser.add_argument("--import-rows", type=int, default=600)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.cells} cells, {args.members} members")
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    for kind in stores:
        with tempfile.TemporaryDirectory() as tmp:
            prefix = f"chibo_bench{uuid.uuid4().hex[:6]}"
            settings = StoreSettings(kind=kind, data_dir=tmp, pg_db_prefix=prefix)
            try:
                r = build(settings, args.cells, args.members, args.import_rows)
            finally:
                if kind == "postgres":
                    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
                        c.execute(f"DROP DATABASE IF EXISTS {settings.dbname('members')} WITH (FORCE)")
        print(f"{kind:<9} admissions {r['admissions_per_s']:7.1f}/s | read model from scratch {r['catch_up_s']:6.2f} s"
              f" | tree {r['tree_ms']:7.1f} ms | health of every cell {r['health_ms']:7.1f} ms"
              f" | one roster {r['roster_ms']:6.1f} ms\n{'':<9} import of {args.import_rows} rows: check"
              f" {r['import_check_s']:5.2f} s, apply {r['import_apply_s']:5.2f} s, again (all unchanged)"
              f" {r['import_again_s']:5.2f} s")


if __name__ == "__main__":
    main()
