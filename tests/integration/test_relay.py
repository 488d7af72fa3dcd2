"""The outbox relay against the real broker: confirms, mandatory routing, crash-and-republish, single lock."""

import threading

import pytest
import requests
from kombu import Connection, Queue

from services.members.application import MembersApplication
from services.members.integration import translate
from shared import topology
from shared.relay import EnvelopeReader, OutboxRelay, Publisher, relay_lock
from shared.stores import TrackedStore, event_store_env
from tests.conftest import wait_for
from tests.integration.helpers import counter, drain_dead_letters, small_ward

pytestmark = pytest.mark.infra


@pytest.fixture
def relay_parts(sqlite_settings, fresh_vhost):
    import datetime as dt

    app = MembersApplication(env=event_store_env(sqlite_settings, "members"))
    app.create_unit(kind="ward", name="W", code="W", parent_id=None, block=None,
                    effective_from=dt.date(2020, 1, 1), by="tester")
    relay = OutboxRelay(EnvelopeReader("members", app, translate), Publisher(fresh_vhost, "members"),
                        TrackedStore(sqlite_settings, "members", name="relay"))
    yield app, relay
    relay.publisher.close()
    app.close()


def test_an_unroutable_event_is_refused_by_the_broker_and_its_position_is_not_recorded(relay_parts, fresh_vhost):
    _app, relay = relay_parts
    with pytest.raises(Exception, match=r"(?i)no.?route|312|unroutable"):
        relay.run_once()  # mandatory=True, and no queue is bound yet
    assert relay.positions() == (0, 0)
    with Connection(fresh_vhost) as conn:  # deploy declares the queue; the relay retries and succeeds
        Queue("tap", exchange=topology.events_exchange("members"), routing_key="#", durable=True)(
            conn.channel()).declare()
    assert relay.run_once() == 1
    assert relay.positions()[1] == 1
    with Connection(fresh_vhost) as conn:
        msg = conn.SimpleQueue("tap").get(timeout=5)
        assert msg.properties["delivery_mode"] == 2  # persistent
        assert msg.delivery_info["routing_key"] == "OrgUnitCreated"
        assert msg.payload["position"] == 1 and msg.payload["previous_position"] == 0
        msg.ack()


def test_a_crash_between_publish_and_record_republishes_and_consumers_apply_once(new_cluster, fresh_vhost):
    # Idle catch-up off for this test: every delivery must come from the relays, so the counts are exact.
    cluster = new_cluster(catch_up_interval=3600).start(relays=("meetings",))
    client = cluster.client()
    ward = small_ward(client, "RC")  # recorded while no members relay runs: nothing published yet
    published = len(client.get("members", "/notifications", limit=1000)["items"])

    crashing = cluster.spawn("relay-members-crash", "relay", "members", CHIBO_FAULT_CRASH_AFTER_PUBLISH="1")
    assert crashing.wait(timeout=60) == 70  # died after the broker confirmed, before recording
    for consumer in ("meetings", "reporting"):
        wait_for(lambda c=consumer: counter(client, c, "chibo_consumer_events_total", source="members",
                                            outcome="applied") == published, what=f"{consumer} applied all")

    cluster.spawn("relay-members", "relay", "members")  # resumes from the recorded position: republishes
    for consumer in ("meetings", "reporting"):
        wait_for(lambda c=consumer: counter(client, c, "chibo_consumer_events_total", source="members",
                                            outcome="duplicate") == published, what=f"{consumer} skipped dups")
        assert counter(client, consumer, "chibo_consumer_events_total", source="members",
                       outcome="applied") == published  # exactly once
        assert drain_dead_letters(fresh_vhost, consumer, "members") == []
    for cell_id, members in ward["cells"].items():
        roster = client.get("meetings", f"/cells/{cell_id}/roster", date="2025-01-01")["members"]
        assert sorted(m["member_id"] for m in roster) == sorted(members)
    # the relay's own operator port: nothing left in the outbox, its position at the store's head
    last = client.get("members", "/notifications", limit=1)["last"]
    relay_metrics = requests.get(f"{cluster.ops_urls['relay-members']}/metrics", timeout=10).text
    assert 'chibo_outbox_backlog{source="members"} 0.0' in relay_metrics
    assert f'chibo_relay_position{{source="members"}} {float(last)}' in relay_metrics


def test_only_one_relay_per_source_holds_the_lock(postgres_settings):
    from shared.stores import ensure_database

    ensure_database(postgres_settings, "members")
    with relay_lock(postgres_settings, "members") as first:
        assert first
        gave_up = threading.Event()
        gave_up.set()  # a standby asked to stop while the lock is held: it never becomes active
        with relay_lock(postgres_settings, "members", gave_up) as standby:
            assert not standby
    with relay_lock(postgres_settings, "members", threading.Event()) as after_release:
        assert after_release  # the lock is free again once the active relay's session ended


def test_the_file_lock_guards_the_embedded_relay_too(sqlite_settings):
    with relay_lock(sqlite_settings, "members") as first:
        assert first
        stop = threading.Event()
        stop.set()
        with relay_lock(sqlite_settings, "members", stop) as standby:
            assert not standby


def test_a_relay_whose_lock_session_dies_stops_publishing_until_it_holds_the_lock_again(
        relay_parts, postgres_settings, fresh_vhost):
    """The lock is a PostgreSQL session: terminated under the relay, it is gone, and a standby can take it. The
    relay must notice before its next batch and publish nothing more while another may hold the lock."""
    import zlib

    import psycopg

    from shared.relay import LockLost
    from shared.stores import ensure_database

    app, relay = relay_parts
    with Connection(fresh_vhost) as conn:
        Queue("tap", exchange=topology.events_exchange("members"), routing_key="#", durable=True)(
            conn.channel()).declare()
    ensure_database(postgres_settings, "members")
    key = zlib.crc32(b"chibo-relay:members")
    with relay_lock(postgres_settings, "members") as lock:
        assert lock and lock.held()
        assert relay.run_once(lock.held) == 1  # held: the first event goes out
        first = relay.positions()
        with psycopg.connect(dbname="postgres", host="127.0.0.1", user="postgres", autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.objid::bigint = %s AND d.datname = %s",
                (key, postgres_settings.dbname("members"))).fetchall()
        assert ended == [(True,)]
        import datetime as dt

        app.create_unit(kind="ward", name="W2", code="W2", parent_id=None, block=None,
                        effective_from=dt.date(2020, 1, 1), by="tester")
        assert not lock.held()
        with pytest.raises(LockLost):
            relay.run_once(lock.held)
        assert relay.positions() == first  # nothing published, nothing recorded
        # A standby can now take the lock, which is what makes publishing on unsafe.
        with relay_lock(postgres_settings, "members", threading.Event()) as standby:
            assert standby and standby.held()
    # run_guarded: back to waiting for the lock, then active again and publishing the rest.
    stop = threading.Event()
    became_active = threading.Event()
    thread = threading.Thread(target=relay.run_guarded, args=(postgres_settings, stop),
                              kwargs={"poll": 0.05, "on_active": became_active.set})
    thread.start()
    try:
        assert became_active.wait(10)
        head = app.recorder.max_notification_id()
        wait_for(lambda: relay.positions()[0] == head, what="the rest published once the lock is held again")
    finally:
        stop.set()
        thread.join(10)
    with Connection(fresh_vhost) as conn:
        queue = conn.SimpleQueue("tap")
        got = [queue.get(timeout=5).payload for _ in range(2)]
        assert [e["payload"]["name"] for e in got] == ["W", "W2"] and queue.qsize() == 0  # each once, in order
