"""The broker's per-service users (shared/definitions.py), imported into a private vhost of the real RabbitMQ:
each may do what its service does and nothing of another's. Every integration and fault test's cluster runs its
processes as these users too (tests/integration/conftest.py), which is what shows the grants are sufficient;
this file shows they are not more than that."""

from __future__ import annotations

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Producer

from services.cluster import Cluster
from shared import topology

pytestmark = pytest.mark.infra


@pytest.fixture
def users(fresh_vhost, tmp_path):
    cluster = Cluster(amqp_uri=fresh_vhost, log_dir=tmp_path)
    cluster.provision_broker()
    yield cluster
    cluster.remove_broker_users()


def publish(uri: str, exchange: str) -> None:
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        Producer(conn.channel()).publish("{}", exchange=exchange, routing_key="X", retry=False)


def consume_one(uri: str, queue: str) -> None:
    """Subscribe to `queue` (basic.consume: single-active-consumer quorum queues refuse basic.get), then cancel."""
    with Connection(uri) as conn:
        channel = conn.channel()
        tag = channel.basic_consume(queue, callback=lambda message: None)
        channel.basic_cancel(tag)


def refused(action, *args) -> bool:
    try:
        action(*args)
    except AccessRefused:
        return True
    return False


def test_each_service_may_do_its_own_work_and_nothing_of_anothers(users):
    members, meetings, reporting = (users.service_amqp_uri(s) for s in ("members", "meetings", "reporting"))
    # its own work: a writer declares and publishes its events; a consumer declares, binds and reads its queues
    for service in ("members", "meetings", "reporting"):
        assert topology.declare_for(service, users.service_amqp_uri(service)) is not None
    publish(members, "members.events")
    publish(meetings, "meetings.events")
    consume_one(meetings, "meetings.members")
    consume_one(reporting, "reporting.members")
    consume_one(reporting, "reporting.meetings")
    with Connection(reporting) as conn:  # dead-lettering a refused message
        Producer(conn.channel()).publish("{}", exchange=topology.DLX, routing_key="reporting.meetings.dlq",
                                         retry=False)

    # nothing of another's
    assert refused(publish, members, "meetings.events")  # members cannot speak as meetings
    assert refused(publish, reporting, "members.events")  # nor reporting as a writer
    assert refused(consume_one, reporting, "meetings.members")  # the roster replica's queue is not reporting's
    assert refused(consume_one, members, "reporting.members")
    assert refused(topology.declare_for, "reporting", members)  # members may not declare reporting's queues
    with Connection(meetings) as conn:
        assert refused(conn.channel().queue_purge, "reporting.meetings")  # nor purge another service's queue
    with Connection(reporting) as conn:
        assert refused(conn.channel().queue_delete, "meetings.members")
    # the operator account has every right in the vhost (chibo declare, chibo deadletters)
    assert topology.declare_all(users.service_amqp_uri("admin")) is not None
