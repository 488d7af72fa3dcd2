"""All three services in one process (the embedded default): the slice end to end, and poison messages."""

import json

import pytest
from kombu import Connection, Producer

from services.client import ChiboClient
from services.demo import build_ward
from services.runner import EmbeddedPlatform, embedded_config
from shared import topology
from tests.conftest import free_port, wait_for
from tests.support import drain


def reset_memory_broker():
    from kombu.transport import memory

    memory.Channel.queues.clear()
    memory.Transport.global_state.clear()


@pytest.fixture
def platform(tmp_path):
    reset_memory_broker()
    p = EmbeddedPlatform(embedded_config(tmp_path / "var", port=free_port())).start()
    yield p
    p.stop()
    reset_memory_broker()


def rows_by_cell_month(client, ward_id, year):
    rows = client.cell_months(f"{year}-01", f"{year}-12", ward_id)
    return {(r["cell_code"], r["month"]): r for r in rows}


def test_a_year_of_a_ward_reaches_reporting_with_the_figures_the_client_sent(platform):
    client = ChiboClient.single(platform.base_url)
    result = build_ward(client, 2025, seed=5)
    rows = rows_by_cell_month(client, result.ward_id, 2025)
    assert set(rows) == set(result.expected)
    for key, (meetings, present, summoned) in result.expected.items():
        r = rows[key]
        assert (r["meetings"], r["present"], r["attendance_base"]) == (meetings, present, summoned), key
        assert r["regular_held"] == (meetings > 0)
        assert r["attendance_rate"] == (round(present / summoned, 4) if summoned else None)
    assert any(m == 0 for m, _, _ in result.expected.values())  # the scenario does include missed months


def dead_letters(queue_name):
    return [(body, headers) for _, body, headers in drain("memory://chibo/", queue_name)]


def test_a_poison_message_is_dead_lettered_with_its_reason_and_the_stream_goes_on(platform):
    client = ChiboClient.single(platform.base_url)
    ward = client.post("members", "/units", {"kind": "ward", "name": "W", "code": "W1", "effective_from": "2020-01-01"})
    client.wait_caught_up()
    poison = {"type": "OrgUnitCreated", "source": "members", "payload": {"unit_id": "not-a-uuid"}}
    with Connection("memory://chibo/") as conn:
        Producer(conn.channel()).publish(json.dumps(poison), exchange=topology.events_exchange("members"),
                                         routing_key="OrgUnitCreated", content_type="application/json")
    cell = client.post("members", "/units", {"kind": "cell", "name": "C", "code": "W1-C", "parent_id": ward["id"],
                                             "block": "residential", "effective_from": "2020-01-01"})
    client.wait_caught_up()
    # both consumers of members applied the cell created after the poison ...
    assert client.get("meetings", f"/cells/{cell['id']}/roster", date="2021-01-01")["members"] == []
    assert client.cell_months("2021-01", "2021-01")
    # ... and each dead-lettered the poison, with the reason
    for consumer in ("meetings", "reporting"):
        [(body, headers)] = wait_for(lambda c=consumer: dead_letters(f"{c}.members.dlq"), what=f"{consumer} DLQ")
        assert body == poison
        assert headers["x-chibo-reason"].startswith("contract:") and "event_id" in headers["x-chibo-reason"]


def test_an_undecodable_message_is_dead_lettered_and_does_not_stop_the_consumer(platform):
    client = ChiboClient.single(platform.base_url)
    with Connection("memory://chibo/") as conn:
        Producer(conn.channel()).publish(b"{not json", exchange=topology.events_exchange("members"),
                                         routing_key="OrgUnitCreated", content_type="application/json",
                                         content_encoding="utf-8")
    ward = client.post("members", "/units", {"kind": "ward", "name": "W", "code": "W2", "effective_from": "2020-01-01"})
    client.wait_caught_up()
    assert client.cell_months("2021-01", "2021-01", ward["id"]) == []  # a known unit (else 404)
    for consumer in ("meetings", "reporting"):
        [(body, headers)] = wait_for(lambda c=consumer: dead_letters(f"{c}.members.dlq"), what=f"{consumer} DLQ")
        assert body == {"undecodable_body": "{not json"}
        assert headers["x-chibo-reason"].startswith("undecodable")
