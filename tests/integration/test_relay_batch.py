"""The relay's batched publisher confirms against the real broker: a batch returns only when every message was
confirmed; an unroutable message, a killed connection or missing acks make it raise."""

from __future__ import annotations

import datetime as dt
import uuid

import eventlet
import pytest
from kombu import Connection, Queue

from services.members.application import MembersApplication
from services.members.integration import translate
from shared import topology
from shared.confirms import NotConfirmed
from shared.contracts import Envelope, make_envelope
from shared.contracts.members import OrgUnitCreated
from shared.relay import EnvelopeReader, OutboxRelay, Publisher
from shared.stores import TrackedStore, event_store_env
from tests.faults.proxy import ProxyProcess

pytestmark = pytest.mark.infra


def envelopes(n: int, source: str = "members") -> list[Envelope]:
    stream = uuid.uuid4()
    return [
        make_envelope(OrgUnitCreated(unit_id=uuid.uuid4(), kind="ward", name=f"W{i}", code=f"W{i}",
                                     effective_from=dt.date(2020, 1, 1)),
                      event_id=uuid.uuid4(), source=source, position=i, previous_position=i - 1, stream_id=stream,
                      stream_version=i, occurred_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                      recorded_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), recorded_by="tester")
        for i in range(1, n + 1)
    ]


def tap(amqp_uri: str, routing_key: str = "#") -> Queue:
    queue = Queue("tap", exchange=topology.events_exchange("members"), routing_key=routing_key, durable=True)
    with Connection(amqp_uri) as conn:
        queue(conn.channel()).declare()
    return queue


def drain(amqp_uri: str) -> list:
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        out = []
        while (message := channel.basic_get("tap", no_ack=True)) is not None:
            out.append(message)
        return out


def test_a_confirmed_batch_arrives_once_in_order_persistent_with_its_headers(fresh_vhost):
    tap(fresh_vhost)
    sent = envelopes(1500)  # more than the confirm window: the publisher reads acks while it writes
    publisher = Publisher(fresh_vhost, "members")
    publisher.publish(sent[:700])
    publisher.publish(sent[700:])  # the same channel: delivery tags go on from the first batch
    publisher.close()
    got = drain(fresh_vhost)
    assert [Envelope.model_validate_json(m.body) for m in got] == sent
    first = got[0]
    assert first.properties["delivery_mode"] == 2
    assert first.properties["message_id"] == str(sent[0].event_id)
    assert first.properties["content_type"] == "application/json"
    assert first.headers == {"chibo-source": "members", "chibo-position": 1}
    assert first.delivery_info["routing_key"] == "OrgUnitCreated"


def test_one_unroutable_message_fails_the_whole_batch(fresh_vhost):
    tap(fresh_vhost, routing_key="OrgUnitCreated")
    batch = envelopes(50)
    batch[30] = batch[30].model_copy(update={"type": "NobodyListens"})  # no queue binds this routing key
    publisher = Publisher(fresh_vhost, "members")
    with pytest.raises(NotConfirmed, match=r"unroutable.*312.*NobodyListens"):
        publisher.publish(batch)
    assert publisher._connection is None  # dropped: the next batch starts on a fresh channel
    publisher.publish(envelopes(3))
    publisher.close()
    assert len(drain(fresh_vhost)) == 49 + 3  # the routable ones were delivered (at least once)


def test_an_unroutable_batch_leaves_the_relay_position_where_it_was(sqlite_settings, fresh_vhost):
    app = MembersApplication(env=event_store_env(sqlite_settings, "members"))
    for i in range(20):
        app.create_unit(kind="ward", name=f"W{i}", code=f"W{i}", parent_id=None, block=None,
                        effective_from=dt.date(2020, 1, 1), by="tester")
    relay = OutboxRelay(EnvelopeReader("members", app, translate), Publisher(fresh_vhost, "members"),
                        TrackedStore(sqlite_settings, "members", name="relay"), batch_size=8)
    try:
        with pytest.raises(NotConfirmed, match="unroutable"):
            relay.run_once()  # no queue bound: all 8 returned
        assert relay.positions() == (0, 0)
        tap(fresh_vhost)
        counts = [relay.run_once()]
        while counts[-1]:
            counts.append(relay.run_once())
        head = app.recorder.max_notification_id()
        assert relay.positions()[0] == head and len(counts) > 3  # several batches
        positions = [m.headers["chibo-position"] for m in drain(fresh_vhost)]
        assert len(positions) == sum(counts) >= 20 and positions == sorted(set(positions))  # once, in order
        assert positions[-1] == relay.positions()[1]
    finally:
        relay.publisher.close()
        app.close()


@pytest.fixture
def proxy():
    proxy = ProxyProcess()
    yield proxy
    proxy.close()


def test_a_connection_killed_before_the_acks_arrive_raises(fresh_vhost, proxy):
    tap(fresh_vhost)
    publisher = Publisher(proxy.uri(fresh_vhost), "members", confirm_timeout=30)
    publisher.publish(envelopes(1))  # connected, confirm mode on
    proxy.cut()  # the batch is written into a silent link: no ack comes back...
    down = eventlet.spawn_after(1.0, proxy.down)  # ...then the connection is reset under the waiting publisher
    with pytest.raises(Exception) as raised:
        publisher.publish(envelopes(200))
    assert not isinstance(raised.value, NotConfirmed)  # the reset, not the 30 s timeout
    assert publisher._connection is None
    down.wait()  # the proxy resets before it answers "down": talk to it again only once it has answered
    proxy.heal()
    proxy.up()
    publisher.publish(envelopes(2))  # a fresh connection through the restored proxy
    publisher.close()


def test_acks_that_do_not_arrive_in_time_raise(fresh_vhost, proxy):
    tap(fresh_vhost)
    publisher = Publisher(proxy.uri(fresh_vhost), "members", confirm_timeout=1.0)
    publisher.publish(envelopes(1))
    proxy.cut()
    with pytest.raises(NotConfirmed, match=r"not confirmed within 1\.0s"):
        publisher.publish(envelopes(200))
    assert publisher._connection is None
    proxy.heal()
