"""A city-sized reporting store for the query benchmark, cloned from the replayed district (issue 10, growth).

    .venv/bin/python -m tests.bench.city_clone build [--copies 48]   # chibo_bench_cityclone_reporting
    .venv/bin/python -m tests.bench.city_clone check                 # its figures = 48 x the district's
    .venv/bin/python -m tests.bench.query_part time --prefix chibo_bench_cityclone --target reporting

Generating and replaying a whole city through the aggregates takes hours on the 2-core machine (BENCHMARKS.md),
so the city's *queries* are measured on a clone instead: the district's replayed reporting store
(`chibo_bench_district_bench_replay`, left by `make bench`) copied 48 times under the same city root, every
id of a copy remapped (md5 of the id and the copy number, as a UUID), unit codes Q001 -> Q0kk. That is the
issue's city: 48 x 417 = 20,016 cells, 446,736 members, 5.7 M roster rows. The audit index (`events`) is left
empty (the roll-ups and exports do not read it). The clone is checked, not only timed: every figure of the
city equals 48 times the generator's expected district figure, and each district's equals the district's.

This measures the queries at city scale, nothing else: the city's generation and replay stay extrapolated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from shared.config import StoreSettings
from tests.bench import pg

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "chibo_bench_district_bench_replay"
PREFIX = "chibo_bench_cityclone"
TARGET = f"{PREFIX}_reporting"
DISTRICT = "Q001"
COPIES = 48

# table -> the id columns a copy remaps (the city root keeps its id: every copy hangs under it)
REMAP: dict[str, tuple[str, ...]] = {
    "units": ("unit_id", "merged_into"),
    "unit_names": ("unit_id",),
    "unit_parents": ("unit_id", "parent_id"),
    "members": ("member_id",),
    "member_cells": ("member_id", "cell_id"),
    "official_spells": ("member_id", "cell_id"),
    "supervisions": ("supervisor_id", "cell_id"),
    "meetings": ("meeting_id", "cell_id"),
    "meeting_roster": ("meeting_id", "member_id", "cell_id"),
    "meeting_steps": ("meeting_id",),
    "meeting_guests": ("meeting_id", "guest_id"),
    "resolutions": ("resolution_id", "meeting_id", "cell_id", "review_meeting_id"),
    "dues": ("member_id", "meeting_id", "cell_id"),
    "dues_months": ("cell_id",),  # the kept counts, copied with their rows (their triggers off meanwhile)
    "resolution_reviews": ("resolution_id", "cell_id"),
    "meeting_years": ("cell_id",),
    "member_years": ("member_id", "cell_id"),
}
RECODE = {"units": ("code",), "members": ("code",)}  # Q001-... -> Q0kk-...


def _columns(conn: Any, table: str) -> list[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                        " ORDER BY ordinal_position", (table,)).fetchall()
    return [r[0] for r in rows]


def _copy_statement(conn: Any, table: str, copies: int, root: str) -> str:
    def value(column: str) -> str:
        if column in REMAP[table]:
            return (f"CASE WHEN {column} IS NULL OR {column} = '{root}' THEN {column}"
                    f" ELSE md5({column} || ':' || k)::uuid::text END")
        if column in RECODE.get(table, ()):
            return f"replace({column}, '{DISTRICT}', 'Q' || lpad(k::text, 3, '0'))"
        return column

    columns = _columns(conn, table)
    where = f" WHERE unit_id <> '{root}'" if table in ("units", "unit_names", "unit_parents") else ""
    return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(value(c) for c in columns)}"
            f" FROM {table} CROSS JOIN generate_series(2, {copies}) AS k{where}")


def built_from(copies: int) -> str | None:
    """The district replay's tables digest the existing clone was built from (None: no complete clone)."""
    try:
        with pg.connect(TARGET, patience=0) as conn:
            row = conn.execute("SELECT source_digest FROM bench_clone WHERE copies = %s", (copies,)).fetchone()
    except Exception:  # no clone, or one cut short before its marker
        return None
    return None if row is None else str(row[0])


def ensure(copies: int, source_digest: str) -> dict[str, Any]:
    """The clone of the district replay whose tables digest is `source_digest`: reused when the existing one
    was built from it (same rows: the clone is a function of them), else built anew."""
    if source_digest and built_from(copies) == source_digest:
        return {"copies": copies, "reused": True, "source_digest": source_digest, "rows": _counts()}
    out = build(copies)
    with pg.connect(TARGET) as conn:
        conn.execute("CREATE TABLE bench_clone (source_digest TEXT NOT NULL, copies INTEGER NOT NULL)")
        conn.execute("INSERT INTO bench_clone VALUES (%s, %s)", (source_digest, copies))
        conn.commit()
    return out | {"reused": False, "source_digest": source_digest}


def _counts() -> dict[str, int]:
    with pg.connect(TARGET) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in REMAP}  # type: ignore[index]


def build(copies: int) -> dict[str, Any]:
    """The clone, anew; also `<PREFIX>_members`/`_meetings` as copies of the district's logs, so a cluster can
    serve it (tests/bench/cluster_parts.py: the sources' services must answer; their logs are not read)."""
    started = time.perf_counter()
    with pg.connect("postgres", autocommit=True) as admin:
        for source in ("members", "meetings"):
            admin.execute(f'DROP DATABASE IF EXISTS "{PREFIX}_{source}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{PREFIX}_{source}" TEMPLATE "chibo_bench_district_{source}"')
        admin.execute(f'DROP DATABASE IF EXISTS "{TARGET}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{TARGET}" TEMPLATE "{SOURCE}"')  # a file copy of the district
    with pg.connect(TARGET) as conn:
        root = conn.execute("SELECT unit_id FROM units WHERE kind = 'city'").fetchone()[0]  # type: ignore[index]
        conn.execute("TRUNCATE events")
        # no trigger fires while copying (the kept counts are copied as they are, remapped like the rows);
        # the bench connects as the server's superuser, which this setting needs
        conn.execute("SET session_replication_role = replica")
        for table in REMAP:
            conn.execute(_copy_statement(conn, table, copies, root))
            print(f"  {table}: copied", flush=True)
        conn.commit()
    with pg.connect(TARGET, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"copies": copies, "seconds": round(time.perf_counter() - started, 1), "rows": _counts()}


def _times(value: Any, n: int) -> Any:
    if isinstance(value, dict):
        return {k: _times(v, n) for k, v in value.items()}
    return value * n if isinstance(value, int) and not isinstance(value, bool) else value


def check(copies: int) -> list[str]:
    """Differences between the clone's figures and `copies` x the generator's expected district figures."""
    from services.synthetic.check import differences, reporting_figures

    manifest = json.loads((ROOT / "var" / "bench-cache" / "district-4.json").read_text(encoding="utf-8"))
    district = manifest["expected"]
    expected = {"city": _times(district["city"], copies),
                "by_block": {k: _times(v, copies) for k, v in district["by_block"].items()},
                "by_district": {f"Q{k:03d}": district["by_district"][DISTRICT] for k in range(1, copies + 1)}}
    actual = reporting_figures(StoreSettings(kind="postgres", pg_db_prefix=PREFIX), "reporting", int(district["year"]),
                               dt.date.fromisoformat(district["report_date"]))
    return list(differences(expected, actual))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("build", "check"))
    parser.add_argument("--copies", type=int, default=COPIES)
    args = parser.parse_args()
    if args.what == "build":
        print(json.dumps(build(args.copies)))
        return 0
    diffs = check(args.copies)
    for line in diffs[:20]:
        print(line)
    print(json.dumps({"figures_differing": len(diffs)}))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
