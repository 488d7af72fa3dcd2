"""Fixtures of the fault-injection suite: a cluster whose broker connections go through a proxy the test owns,
a ward with a steady load, and the summary table (var/faults/summary.md, printed at the end of the run)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from services.client import ChiboClient
from services.cluster import ROOT, Cluster
from services.runner import machine_key
from tests.conftest import wait_for
from tests.faults.checks import Outcome
from tests.faults.load import Load, build_ward
from tests.faults.proxy import ProxyProcess
from tests.integration.conftest import new_cluster  # noqa: F401 - the fixture, for this package

SUMMARY = ROOT / "var" / "faults"
HEADER = ("| fault | commands 2xx/5xx/no answer | events sent | events applied | duplicates skipped | gaps filled "
          "| dead-lettered | time to recover (s) |\n|---|---|---|---|---|---|---|---|")
_outcomes: list[Outcome] = []
# Small PostgreSQL pools: a cluster holds about 30 connections of the server's 100, shared with other runs.
POOLS = {"CHIBO_PG_POOL_SIZE": "1", "CHIBO_PG_MAX_OVERFLOW": "3"}


@dataclass
class Rig:
    """One test's platform: the cluster (broker through `proxy`), a client, the ward and its load."""

    cluster: Cluster
    proxy: ProxyProcess
    amqp_uri: str  # the private vhost, directly (the test's own view of the broker)
    client: ChiboClient
    key: str
    ward: dict[str, Any]
    poison_file: Path

    def load(self, **kwargs: Any) -> Load:
        return Load(self.client, self.ward, **kwargs).start()

    def restart(self, name: str) -> None:
        """Start a process again as its supervisor would (same command, same environment)."""
        if name.startswith("relay-"):
            self.cluster.spawn(name, "relay", name.removeprefix("relay-"))
        else:
            self.cluster.spawn(name, "run", name)


def pg_free_slots() -> int:
    import psycopg

    from tests.conftest import PG

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        used = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").fetchone()
        limit = conn.execute("SHOW max_connections").fetchone()
    return int(limit[0]) - int(used[0])


@pytest.fixture
def rig(new_cluster, fresh_vhost, tmp_path, monkeypatch) -> Any:  # noqa: F811 - the imported fixture
    for name, value in POOLS.items():  # the test's own stores (the clean replay) too
        monkeypatch.setenv(name, value)
    wait_for(lambda: pg_free_slots() >= 40, timeout=120, interval=1.0,
             what="40 free PostgreSQL connections (the server is shared with other test runs)")
    proxy = ProxyProcess()
    cluster: Cluster = new_cluster(catch_up_interval=1.0)
    cluster.amqp_uri = proxy.uri(fresh_vhost)
    poison_file = tmp_path / "reject"
    # Batches of at most 10 (the prefetch nameko gives 10 workers): the consumers still batch, and what the
    # relays publish while reporting is frozen waits in its queue (to be purged: lost) rather than in the
    # frozen process's prefetch, which a 200 batch would let hold a whole second of this load.
    cluster.extra_env.update({"CHIBO_HEARTBEAT": "2", "CHIBO_FAULT_REJECT_FILE": str(poison_file),
                              "CHIBO_CONSUMER_BATCH": "10", "LOG_LEVEL": "WARNING", **POOLS})
    cluster.start()
    key = machine_key(cluster.store, "faults")
    client = cluster.client(key)
    ward = build_ward(client, "F" + fresh_vhost[-6:].upper())
    wait_for(lambda: client.pending("meetings", ("members",)) == 0, what="roster replica")
    try:
        yield Rig(cluster, proxy, fresh_vhost, client, key, ward, poison_file)
    finally:
        client.session.close()  # idle keep-alive connections would hold the services' HTTP servers open
        cluster.stop(timeout=8)  # while the proxy still forwards: a service stops faster with its broker there
        proxy.close()


def record(outcome: Outcome) -> None:
    """A row of the summary table (written at the end of the session)."""
    _outcomes.append(outcome)
    print(f"\n{HEADER}\n{outcome.row()}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _outcomes:
        return
    SUMMARY.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    table = "\n".join([HEADER, *(o.row() for o in _outcomes)])
    (SUMMARY / "summary.md").write_text(f"# Fault-injection suite, {stamp}\n\n{table}\n", encoding="utf-8")
    with (SUMMARY / "history.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"at": stamp, "outcomes": [asdict(o) for o in _outcomes]}) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _outcomes:
        terminalreporter.write_sep("-", "faults: what the platform survived (var/faults/summary.md)")
        terminalreporter.write_line(HEADER)
        for o in _outcomes:
            terminalreporter.write_line(o.row())
