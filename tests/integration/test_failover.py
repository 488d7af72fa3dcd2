"""Scaling out (issue 8): a standby relay and a standby reporting replica take over when the active ones die,
with nothing lost and nothing counted twice.

One cluster with two `chibo relay members` (one holds the source's lock, the other waits on it) and two
reporting processes (their queues are single-active-consumer: one applies, the other stands by). Half the load
goes through; the active relay and the active reporting replica are killed with SIGKILL; the other half goes
through. The standbys must finish the job: the surviving replica's figures equal what the client sent, its
counters show every event applied exactly once, and `chibo replay` rebuilds a store equal to the live one.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from services.client import ChiboClient
from tests.conftest import free_port, wait_for
from tests.integration.helpers import figures, hold_meetings, small_ward

pytestmark = pytest.mark.infra


def applied(cluster, name: str, source: str) -> float:
    """`chibo_consumer_events_total{outcome="applied"}` of one reporting process (0 when it applied none)."""
    text = requests.get(f"{cluster.ops_urls[name]}/reporting/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("chibo_consumer_events_total{") and f'source="{source}"' in line \
                and 'outcome="applied"' in line and 'consumer="reporting"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_standby_relay_and_reporting_replica_take_over_with_nothing_lost(new_cluster):
    cluster = new_cluster(catch_up_interval=3600).start()  # idle catch-up off: deliveries come from the relays
    cluster.standby_relay("members", "relay-members-2", free_port())
    cluster.replica("reporting", "reporting-2", free_port(), free_port())
    wait_for(lambda: requests.get(f"{cluster.ops_urls['reporting-2']}/reporting/health", timeout=2).ok,
             what="reporting-2 up")
    wait_for(lambda: "waiting for the single-active lock" in cluster.log("relay-members-2"), what="standby relay")
    client = cluster.client()
    ward = small_ward(client, "FO")
    wait_for(lambda: client.pending("meetings", ("members",)) == 0, what="the roster replica has the members")
    first = hold_meetings(client, ward["cells"], months=2)
    wait_for(lambda: client.pending("reporting", ("members", "meetings")) == 0, what="first half applied")
    # the replica started first is the active consumer; the other has applied nothing
    assert applied(cluster, "reporting", "meetings") > 0 and applied(cluster, "reporting-2", "meetings") == 0
    assert "members: active" in cluster.log("relay-members") and "members: active" not in cluster.log("relay-members-2")
    before = {s: applied(cluster, "reporting", s) for s in ("members", "meetings")}  # nothing flows now

    cluster.stop("relay-members", sig=signal.SIGKILL)
    cluster.stop("reporting", sig=signal.SIGKILL)
    survivor = ChiboClient({**cluster.urls, "reporting": cluster.urls["reporting-2"]},
                           ops_urls={**cluster.ops_urls, "reporting": cluster.ops_urls["reporting-2"]})
    survivor.session.headers.update(client.session.headers)  # the same machine key

    more = small_ward(client, "FP")  # members events: only the standby relay can publish them now
    wait_for(lambda: "relay members: active" in cluster.log("relay-members-2"), timeout=60, what="relay fail-over")
    wait_for(lambda: client.pending("meetings", ("members",)) == 0, timeout=60, what="the new cells reach meetings")
    second = hold_meetings(client, more["cells"], months=2)
    wait_for(lambda: survivor.pending("reporting", ("members", "meetings")) == 0, timeout=120,
             what="the standby reporting replica caught up")

    # what the client sent, as the surviving replica reports it
    for unit, sent in ((ward["ward"], first), (more["ward"], second)):
        got = figures(survivor, unit)  # (present, base) per cell and month, January to April
        assert {k: got[k] for k in sent} == sent
        assert all(v == (0, 0) for k, v in got.items() if k not in sent)
    # exactly once across the two replicas: what the first applied before it died and what the survivor
    # applied after add up to what was published, none twice
    for source in ("members", "meetings"):
        assert before[source] + applied(cluster, "reporting-2", source) == len(client.published(source)), source
    # and the live store equals a clean rebuild from the logs
    replay = subprocess.run([sys.executable, "-m", "services.cli", "replay", "--no-progress", "--lang", "en"],
                            env=cluster.env(), capture_output=True, text=True, timeout=300)
    assert replay.returncode == 0, replay.stdout + replay.stderr
