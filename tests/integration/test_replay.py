"""`chibo replay` as an operator runs it, against the distributed run (every service and relay a process,
RabbitMQ, PostgreSQL) after a year of a ward recorded through the HTTP APIs."""

import datetime as dt
import subprocess
import sys

import pytest

from services.cluster import ROOT
from services.demo import build_ward
from services.reporting.queries import Queries
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


def answers(settings, store, today, year):
    """What reporting answers on `today` from `store`: the year's cell-months and the Q1 and Q2 roll-ups."""
    s = TrackedStore(settings, store)
    try:
        with s.read() as sql:
            q = Queries(sql, today)
            months = q.cell_months({"from": f"{year}-01", "to": min(f"{year}-12", today.strftime("%Y-%m"))})["items"]
            return months, [q.rollup({"period": f"{year}-Q{n}", "by": "block"}, "vi") for n in (1, 2)]
    finally:
        s.close()


def test_a_year_replayed_equals_the_live_store_and_as_of_mid_year_gives_the_first_half(new_cluster):
    cluster = new_cluster().start()
    year = dt.date.today().year - 1
    build_ward(cluster.client(), year)  # waits until reporting has caught up

    run = chibo(cluster)
    assert run.returncode == 0, run.stdout + run.stderr
    results = table_results(run.stdout)
    assert {"dead_letters", "meeting_roster", "meetings", "units"} <= set(results)  # and any other of the schema
    assert set(results.values()) == {"equal"}, run.stdout

    run = chibo(cluster, "--as-of", f"{year}-06-30")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"As of {year}-06-30" in run.stdout and f"reporting_asof_{year}0630" in run.stdout
    assert "of cells held regular monthly meetings" in run.stdout  # the report, in English as asked
    settings = StoreSettings(kind="postgres", pg_db_prefix=cluster.db_prefix)
    # Both asked on 1 July: the live store (which knows the whole year) and the store of what occurred by the end
    # of June give the same first half, figure by figure (reviews after June are not counted on 1 July either).
    july = dt.date(year, 7, 1)
    live_months, live_quarters = answers(settings, "reporting", july, year)
    as_of_months, as_of_quarters = answers(settings, f"reporting_asof_{year}0630", july, year)
    first_half = [r for r in live_months if r["month"] <= f"{year}-06"]
    assert len(first_half) == 5 * 6 and sum(r["meetings"] for r in first_half) > 0
    assert [r for r in as_of_months if r["month"] <= f"{year}-06"] == first_half
    for live, as_of in zip(live_quarters, as_of_quarters, strict=True):
        assert as_of["figures"] == live["figures"] and as_of["groups"] == live["groups"]
        assert as_of["report"] == live["report"]
    assert live_quarters[0]["figures"]["meetings"] > 0
    # and nothing of the second half, which the live store does have
    later = answers(settings, f"reporting_asof_{year}0630", dt.date(year + 1, 1, 1), year)[0]
    assert sum(r["meetings"] for r in later if r["month"] > f"{year}-06") == 0
    everything = answers(settings, "reporting", dt.date(year + 1, 1, 1), year)[0]
    assert sum(r["meetings"] for r in everything if r["month"] > f"{year}-06") > 0

    down = chibo(cluster, CHIBO_MEETINGS_URL="http://127.0.0.1:9/meetings")  # a source down: said, no traceback
    assert down.returncode == 2 and "Traceback" not in down.stderr
    assert "a source did not answer (ConnectionError): http://127.0.0.1:9/meetings/notifications" in down.stderr
