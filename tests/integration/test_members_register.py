"""The members service as its own process on PostgreSQL, its relay publishing to RabbitMQ: a merge and a
race of conflicting commands, end to end."""

import concurrent.futures

import pytest
import requests
from kombu import Connection, Queue

from shared import topology
from tests.conftest import wait_for
from tests.integration.helpers import small_ward
from tests.support import drain

pytestmark = pytest.mark.infra


def test_a_merge_and_a_race_on_one_member_over_http_on_postgres_and_rabbitmq(new_cluster, fresh_vhost):
    with Connection(fresh_vhost) as conn:  # a consumer of every members event, bound before anything happens
        Queue("members-tap", exchange=topology.events_exchange("members"), routing_key="#", durable=True)(
            conn.channel()).declare()
    cluster = new_cluster().start()
    ward = small_ward(cluster.client(), "MG", members_per_cell=3)  # set up with a machine key
    (c1, m1), (c2, _) = ward["cells"].items()
    client = cluster.client(cluster.sign_in("ward-staff", "ward_staff", ward["ward"]))  # then the ward's staff
    base = f"{cluster.urls['members']}/members"
    auth = dict(client.session.headers)

    # conflicting commands on one member at once: exactly one is recorded, the others are told why (409/422)
    body = {"reason": "health", "effective_from": "2025-02-01"}
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: requests.post(f"{base}/members/{m1[0]}/exempt", json=body, headers=auth,
                                                        timeout=30), range(6)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) == 1 and set(codes) <= {200, 409, 422}, codes
    assert all(a.json()["fields"][0]["rule"] in ("concurrency.version", "member.already_exempted")
               for a in answers if a.status_code != 200)

    merged = client.post("members", "/units/merge", {"source_ids": [c1], "target_id": c2,
                                                     "effective_from": "2025-07-01"})
    assert merged["id"] == c2
    roster = client.get("members", f"/cells/{c2}/roster", date="2025-07-01")
    assert roster["counts"] == {"official": 5, "exempted": 1}

    seen = []
    wait_for(lambda: seen.extend(drain(fresh_vhost, "members-tap")) or any(rk == "CellsMerged" for rk, _, _ in seen),
             what="CellsMerged on the broker")
    types = [rk for rk, _, _ in seen]
    assert types.count("MemberExempted") == 1
    assert types[-4:] == ["MemberTransferred"] * 3 + ["CellsMerged"]
    transfers = [b for rk, b, _ in seen if rk == "MemberTransferred"]
    assert {(t["payload"]["from_cell_id"], t["payload"]["to_cell_id"], t["payload"]["reason"]) for t in transfers} \
        == {(c1, c2, "merge")}
    assert all(b["recorded_by"] == "ward-staff" and b["correlation_id"] for _, b, _ in seen[-4:])
    assert seen[-1][1]["payload"] == {"source_ids": [c1], "target_id": c2, "kind": "cell",
                                      "effective_from": "2025-07-01"}
