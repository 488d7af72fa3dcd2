"""Liveness, readiness and the operator metrics of issue 8, on the distributed run (processes, real broker).

Readiness must fail while a consumer is further behind than CHIBO_READY_MAX_LAG, and recover once it has caught
up; liveness stays 200 meanwhile. Every process exports chibo_build_info, the consumers their duration
histograms, the relays whether they hold their source's lock.
"""

from __future__ import annotations

import signal
import time

import pytest
import requests

from tests.conftest import wait_for
from tests.integration.helpers import counter, hold_meetings, small_ward

pytestmark = pytest.mark.infra


def ready(cluster, name: str, service: str) -> tuple[int, dict]:
    r = requests.get(f"{cluster.ops_urls[name]}/{service}/ready", timeout=5)
    return r.status_code, r.json()


def test_readiness_fails_while_reporting_lags_and_recovers_once_caught_up(new_cluster):
    cluster = new_cluster(catch_up_interval=4.0)
    cluster.extra_env["CHIBO_READY_MAX_LAG"] = "2"
    cluster.start()
    client = cluster.client()
    ward = small_ward(client, "RL")
    client.wait_caught_up()
    assert ready(cluster, "reporting", "reporting")[0] == 200
    assert requests.get(f"{cluster.ops_urls['reporting']}/reporting/live", timeout=5).json()["alive"] is True

    # Frozen, reporting applies nothing: what is recorded now waits in its queues and grows old. (Frozen rather
    # than stopped: a restarted consumer would pull the backlog in its start-up catch-up, before its operator
    # port answers, and the lagging window could pass unseen.)
    reporting = cluster.processes["reporting"]
    reporting.send_signal(signal.SIGSTOP)
    try:
        hold_meetings(client, ward["cells"], months=3)
        time.sleep(3.0)  # older than the 2 s limit by the time reporting applies it
    finally:
        reporting.send_signal(signal.SIGCONT)
    seen: list[tuple[int, dict]] = []

    def lagging_seen_then_ready() -> bool:
        try:
            status, body = ready(cluster, "reporting", "reporting")
        except requests.RequestException:
            return False  # not listening yet
        seen.append((status, body))
        return status == 200 and any(lagging(b) for _, b in seen)

    def lagging(body: dict) -> dict[str, str]:
        return {q: s for q, s in body["consumers"].items() if s.startswith("lagging")}

    wait_for(lagging_seen_then_ready, timeout=60, interval=0.02, what="reporting: 503 while lagging, then 200")
    refused = next(body for status, body in seen if lagging(body))
    assert all(status == 503 for status, body in seen if not body["ready"])
    assert refused["ready"] is False and refused["broker"] == "ok" and refused["database"] == "ok"
    assert all("limit 2 s" in s for s in lagging(refused).values())
    assert max(refused["lag_seconds"].values()) > 2
    final = seen[-1][1]["lag_seconds"]
    assert set(final) == {"reporting.members", "reporting.meetings"} and max(final.values()) < 2
    # the health route is the same report, but 200 all along (for people and dashboards)
    assert client.health("reporting")["ready"] is True


def test_every_process_exports_build_info_consumer_durations_and_the_relays_lock(new_cluster):
    cluster = new_cluster().start()
    client = cluster.client()
    ward = small_ward(client, "BI")
    client.wait_caught_up()  # the roster replica knows the members before their attendance is recorded
    hold_meetings(client, ward["cells"], months=1)
    client.wait_caught_up()
    # events stored per type, by the writers (counted after each commit)
    assert counter(client, "members", "chibo_events_stored_total", type="Member.Admitted") == 8
    assert counter(client, "meetings", "chibo_events_stored_total") > 0
    for service in ("members", "meetings", "reporting"):
        assert counter(client, service, "chibo_build_info") == 1.0
        text = client.ops(service, "/metrics").text
        assert 'version="0.1.0"' in text and "commit=" in text
    # one duration observation per message the consumer handled, by outcome
    observed = counter(client, "reporting", "chibo_consumer_duration_seconds_count", consumer="reporting",
                       source="meetings", outcome="ack")
    applied = counter(client, "reporting", "chibo_consumer_events_total", consumer="reporting", source="meetings",
                      outcome="applied")
    assert observed >= 1 and observed <= applied + counter(client, "reporting", "chibo_consumer_events_total",
                                                           consumer="reporting", source="meetings",
                                                           outcome="duplicate")
    for source in ("members", "meetings"):
        text = requests.get(f"{cluster.ops_urls['relay-' + source]}/metrics", timeout=10).text
        assert f'chibo_relay_active{{source="{source}"}} 1.0' in text
        assert "chibo_build_info{" in text
    wait_for(lambda: all(ready(cluster, s, s)[0] == 200 for s in ("members", "meetings", "reporting")),
             what="every service ready")
