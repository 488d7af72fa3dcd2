"""`chibo replay` as an operator runs it, against the distributed run (every service and relay a process,
RabbitMQ, PostgreSQL) after a year of a ward recorded through the HTTP APIs."""

import datetime as dt
import subprocess
import sys

import pytest

from services.cluster import ROOT
from services.demo import build_ward
from services.reporting.compliance import cell_month
from shared.config import StoreSettings
from shared.stores import TrackedStore

pytestmark = pytest.mark.infra


def chibo(cluster, *args, **env):
    """`chibo replay ...` in a subprocess, configured as `chibo run reporting` is (config.yml + environment)."""
    return subprocess.run([sys.executable, "-m", "services.cli", "replay", "--no-progress", "--lang", "en", *args],
                          cwd=ROOT, env=cluster.env(**env), capture_output=True, text=True, timeout=180)


def table_results(stdout):
    """{table: result} from the verification table (rows between the dashes and the totals line)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
    return {line.split()[0]: line.split()[-1] for line in lines[start:] if line and not line[0].isdigit()}


def cell_months(settings, store, first, last):
    s = TrackedStore(settings, store)
    try:
        with s.read() as sql:
            return cell_month.cell_months(sql, first, last)
    finally:
        s.close()


def test_a_year_replayed_equals_the_live_store_and_as_of_mid_year_gives_the_first_half(new_cluster):
    cluster = new_cluster().start()
    year = dt.date.today().year - 1
    build_ward(cluster.client(recorded_by="test"), year)  # waits until reporting has caught up

    run = chibo(cluster)
    assert run.returncode == 0, run.stdout + run.stderr
    results = table_results(run.stdout)
    assert {"dead_letters", "meeting_roster", "meetings", "units"} <= set(results)  # and any other of the schema
    assert set(results.values()) == {"equal"}, run.stdout

    run = chibo(cluster, "--as-of", f"{year}-06-30")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"as of {year}-06-30" in run.stdout and f"reporting_asof_{year}0630" in run.stdout
    settings = StoreSettings(kind="postgres", pg_db_prefix=cluster.db_prefix)
    live = cell_months(settings, "reporting", f"{year}-01", f"{year}-12")
    as_of = cell_months(settings, f"reporting_asof_{year}0630", f"{year}-01", f"{year}-12")
    first_half = [r for r in live if r.month <= f"{year}-06"]
    assert len(first_half) == 5 * 6 and sum(r.meetings for r in first_half) > 0
    assert [r for r in as_of if r.month <= f"{year}-06"] == first_half
    # and nothing of the second half, which the live store does have
    assert sum(r.meetings for r in as_of if r.month > f"{year}-06") == 0
    assert sum(r.meetings for r in live if r.month > f"{year}-06") > 0

    down = chibo(cluster, CHIBO_MEETINGS_URL="http://127.0.0.1:9/meetings")  # a source down: said, no traceback
    assert down.returncode == 2 and "Traceback" not in down.stderr
    assert "a source did not answer (ConnectionError): http://127.0.0.1:9/meetings/notifications" in down.stderr
