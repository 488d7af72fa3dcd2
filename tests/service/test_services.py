"""Each service in a nameko container (nameko's testing tools), on the in-memory transport and SQLite."""

import uuid

import pytest
import requests
from kombu import Connection, Queue

from services.members.service import MembersService
from services.runner import embedded_config, machine_key
from shared import topology
from shared.config import settings_from
from tests.conftest import free_port, wait_for
from tests.support import drain

MEMORY = "memory://chibo-service-tests/"
api = requests.Session()  # authenticated by the `members` fixture (a machine key named "ward-staff")


@pytest.fixture
def config(tmp_path):
    config = embedded_config(tmp_path / "var", port=free_port())
    config["AMQP_URI"] = MEMORY
    return config


@pytest.fixture
def members(container_factory, config):
    container = container_factory(MembersService, config)
    container.start()
    api.headers["Authorization"] = f"Bearer {machine_key(settings_from(config).store, 'ward-staff')}"
    host, port = config["WEB_SERVER_ADDRESS"].rsplit(":", 1)
    return f"http://{host}:{port}/members"


@pytest.fixture
def members_ops(members, config):
    """The members service's operator port (health, metrics)."""
    return f"http://{config['CHIBO']['ops_address']}/members"


@pytest.fixture
def tap():
    """A queue bound to every members event on the in-memory broker: what the relay published."""
    name = f"tap-{uuid.uuid4().hex[:6]}"
    with Connection(MEMORY) as conn:
        Queue(name, exchange=topology.events_exchange("members"), routing_key="#")(conn.channel()).declare()

    def published():
        return drain(MEMORY, name)

    return published


def post(url, body):
    return api.post(url, json=body, timeout=10)


def ward_and_cell(base):
    ward = post(f"{base}/units", {"kind": "ward", "name": "Tân Giang", "code": "TG", "effective_from": "2020-01-01"})
    assert ward.status_code == 201, ward.text
    cell = post(f"{base}/units", {"kind": "cell", "name": "Chi bộ 1", "code": "TG-1", "parent_id": ward.json()["id"],
                                  "block": "residential", "effective_from": "2020-01-01"})
    assert cell.status_code == 201, cell.text
    return ward.json(), cell.json()


def test_members_commands_are_stored_and_published_through_the_relay(members, tap):
    ward, cell = ward_and_cell(members)
    m = post(f"{members}/members", {"code": "M1", "full_name": "Lê Thị Hoa", "cell_id": cell["id"],
                                    "admitted_on": "2024-03-01"})
    assert m.status_code == 201 and m.json()["status"] == "probationary"
    assert api.get(f"{members}/units/{cell['id']}").json()["org_path"] == [ward["id"], cell["id"]]

    published = wait_for(lambda: (p := tap()) and len(p) == 3 and p, what="3 published events")
    types = [rk for rk, _, _ in published]
    assert types == ["OrgUnitCreated", "OrgUnitCreated", "MemberAdmitted"]
    bodies = [b for _, b, _ in published]
    # previous_position chains the published events across the unpublished code claims in between
    assert [b["previous_position"] for b in bodies] == [0, bodies[0]["position"], bodies[1]["position"]]
    assert all(b["recorded_by"] == "apikey:ward-staff" for b in bodies)  # the caller, not a body field
    assert published[2][2]["chibo-position"] == bodies[2]["position"]


def test_notifications_api_pages_published_events(members):
    ward_and_cell(members)
    page = api.get(f"{members}/notifications", params={"after": 0, "limit": 1}).json()
    assert [i["type"] for i in page["items"]] == ["OrgUnitCreated"]
    rest = api.get(f"{members}/notifications", params={"after": page["items"][0]["position"]}).json()
    assert len(rest["items"]) == 1
    # `last`: the highest notification id, whatever page was asked (a replay's progress total)
    assert page["last"] == rest["last"] >= rest["items"][0]["position"] > page["items"][0]["position"]
    bad = api.get(f"{members}/notifications", params={"after": "x"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "after"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"kind": "ward", "name": "W", "code": "W"}, 422, "effective_from"),  # missing
        ({"kind": "planet", "name": "W", "code": "W", "effective_from": "2020-01-01"}, 422, "kind"),
        ({"kind": "cell", "name": "C", "code": "C", "effective_from": "2020-01-01", "block": "residential",
          "parent_id": str(uuid.uuid4())}, 404, "parent_id"),
        ({"kind": "ward", "name": "W", "code": "TG", "effective_from": "2020-01-01"}, 409, "code"),  # duplicate
        ({"kind": "ward", "name": "W", "code": "W2", "effective_from": "2020-01-01", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_field_and_records_nothing(members, body, status, field):
    ward_and_cell(members)
    before = api.get(f"{members}/notifications").json()["items"]
    r = post(f"{members}/units", body)
    assert r.status_code == status, r.text
    assert r.json()["fields"][0]["field"] == field
    assert "Traceback" not in r.text
    assert api.get(f"{members}/notifications").json()["items"] == before


def test_malformed_json_and_unknown_routes_answer_json(members):
    r = api.post(f"{members}/units", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    r = api.get(f"{members}/nowhere")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = api.get(f"{members}/members/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json()["fields"][0]["field"] == "member_id"


def test_health_and_metrics_are_on_the_operator_port_only(members, members_ops):
    health = requests.get(f"{members_ops}/health").json()  # no credentials needed there
    assert health["status"] == "ok"
    assert (health["ready"], health["broker"], health["database"]) == (True, "ok", "ok")  # readiness
    ward_and_cell(members)
    text = requests.get(f"{members_ops}/metrics").text
    for path in ("/health", "/metrics"):  # not on the public port, with or without a token
        assert api.get(f"{members}{path}").status_code == 404
    assert 'chibo_http_requests_total{route="/members/units",service="members",status="2xx"}' in text


def test_errors_are_in_vietnamese_unless_english_is_asked_for(members):
    body = {"kind": "cell", "name": "C", "code": "C9", "effective_from": "2020-01-01", "block": "residential",
            "parent_id": str(uuid.uuid4())}
    vi = post(f"{members}/units", body).json()
    assert vi["message"].startswith("không có đơn vị")
    en = api.post(f"{members}/units?lang=en", json=body, timeout=10).json()
    assert en["message"].startswith("no organisation unit")
    accept = api.post(f"{members}/units", json=body, timeout=10,
                           headers={"Accept-Language": "en-US,en;q=0.8"}).json()
    assert accept["message"] == en["message"]
    missing = post(f"{members}/units", {"kind": "ward", "name": "W", "code": "W"}).json()
    assert missing["fields"][0] == {"field": "effective_from", "message": "bắt buộc phải có", "rule": "missing"}


def test_a_resubmitted_form_with_its_idempotency_key_admits_the_member_once(members):
    _, cell = ward_and_cell(members)
    body = {"code": "M7", "full_name": "Đỗ Văn Nam", "cell_id": cell["id"],
            "admitted_on": "2024-03-01"}
    key = {"Idempotency-Key": "form-7f3a"}
    first = api.post(f"{members}/members", json=body, headers=key, timeout=10)
    again = api.post(f"{members}/members", json=body, headers=key, timeout=10)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    admitted = [i for i in api.get(f"{members}/notifications").json()["items"] if i["type"] == "MemberAdmitted"]
    assert len(admitted) == 1
    # the same key for something else is refused, naming the header, and records nothing
    other = api.post(f"{members}/members", json={**body, "code": "M8"}, headers=key, timeout=10)
    assert other.status_code == 422 and other.json()["fields"][0]["field"] == "Idempotency-Key"
    assert api.get(f"{members}/notifications").json()["items"][-1]["payload"]["code"] == "M7"
    # without a key, a resubmission is a new command (here refused: the code is taken)
    assert api.post(f"{members}/members", json=body, timeout=10).status_code == 409
