"""The life of a meeting over HTTP with every service as its own process on RabbitMQ and PostgreSQL."""

import pytest

from tests.meeting_scenario import meeting_life

pytestmark = pytest.mark.infra


def test_the_whole_life_of_a_meeting_over_http_distributed(new_cluster):
    cluster = new_cluster().start()
    meeting_life(cluster.client(), cluster.sign_in)


def test_more_concurrent_dashboards_than_the_pool_has_connections(new_cluster):
    """Reporting on psycopg green under eventlet: each request holds one read connection, so nothing it does may
    wait for a second one from the same pool (the positions it answers with are read in its own transaction).
    Twenty concurrent roll-ups, against a pool of 1 + 2 connections and 10 workers, all answer, none after
    the pool's wait (this deadlocked: every answer a 500 after about a minute)."""
    import concurrent.futures
    import time

    cluster = new_cluster()
    cluster.extra_env |= {"CHIBO_PG_POOL_SIZE": "1", "CHIBO_PG_MAX_OVERFLOW": "2"}
    client = cluster.start().client()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: client.rollup("2025"), range(20)))
    assert all("figures" in a and "positions" in a for a in answers)
    assert time.monotonic() - started < 30
