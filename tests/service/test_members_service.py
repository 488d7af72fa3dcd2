"""The members service over HTTP in a nameko container (embedded run: in-memory broker, SQLite)."""

import uuid

import pytest

from tests.conftest import wait_for
from tests.service.test_services import api, config, members, post, tap, ward_and_cell  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("config")


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def admit(base, cell, code, **kw):
    body = {"code": code, "full_name": f"Đảng viên {code}", "cell_id": cell["id"], "admitted_on": "2020-03-01",
            "status": "official", "official_since": "2021-03-01"} | kw
    return ok(post(f"{base}/members", body), 201)


def events(base):
    return api.get(f"{base}/notifications", params={"limit": 1000}).json()["items"]


def test_the_register_over_http(members, tap):  # noqa: F811 - fixtures
    ward, c1 = ward_and_cell(members)
    c2 = ok(post(f"{members}/units", {"kind": "cell", "name": "Chi bộ 2", "code": "TG-2", "parent_id": ward["id"],
                                      "block": "residential", "effective_from": "2020-01-01"}), 201)
    a, b = admit(members, c1, "A"), admit(members, c1, "B")
    p = admit(members, c2, "P", status="probationary", official_since=None, admitted_on="2025-01-10",
              born_on="1990-05-01")
    assert p["born_on"] == "1990-05-01"

    early = post(f"{members}/members/{p['id']}/confirm?lang=en", {"official_since": "2025-10-01"})
    assert early.status_code == 422 and early.json()["fields"][0]["rule"] == "member.probation_length"
    confirmed = ok(post(f"{members}/members/{p['id']}/confirm",
                        {"official_since": "2025-10-01", "override_reason": "QĐ 15", "expected_version": 1}))
    assert (confirmed["status"], confirmed["version"]) == ("official", 2)
    ok(post(f"{members}/members/{a['id']}/exempt", {"reason": "health", "note": "", "effective_from": "2025-02-01"}))
    ok(post(f"{members}/members/{a['id']}/lift-exemption", {"effective_from": "2025-04-01"}))
    moved = ok(post(f"{members}/members/{b['id']}/transfer",
                    {"to_cell_id": c2["id"], "kind": "temporary", "effective_from": "2025-03-01",
                     "until": "2025-06-01"}))
    assert moved["temporary_transfers"] == [{"cell_id": c2["id"], "from": "2025-03-01", "until": "2025-06-01"}]

    roster = ok(api.get(f"{members}/cells/{c1['id']}/roster", params={"date": "2025-03-15"}))
    assert {m["code"]: m["status"] for m in roster["members"]} == {"A": "exempted", "B": "temporarily_elsewhere"}
    hosted = ok(api.get(f"{members}/cells/{c2['id']}/roster", params={"date": "2025-03-15"}))
    assert {m["code"]: m["status"] for m in hosted["members"]} == {"B": "temporary", "P": "probationary"}

    back = ok(post(f"{members}/members/{b['id']}/end-temporary-transfer", {"effective_from": "2025-04-01"}))
    assert back["temporary_transfers"][0]["until"] == "2025-04-01"

    sup = ok(post(f"{members}/supervisors", {"supervisor_id": a["id"], "cell_id": c2["id"],
                                             "effective_from": "2025-01-01"}), 201)
    assert [s["code"] for s in sup["supervisors"]] == ["A"]
    assert ok(api.get(f"{members}/cells/{c2['id']}/supervisors", params={"date": "2024-12-31"}))[
        "supervisors"] == []

    health = ok(api.get(f"{members}/cells/health", params={"unit": ward["id"], "date": "2025-12-01"}))
    assert {c["code"]: c["official_members"] for c in health["cells"]} == {"TG-1": 2, "TG-2": 1}
    assert len(health["merger_candidates"]) == 2

    merged = ok(post(f"{members}/units/merge", {"source_ids": [c1["id"]], "target_id": c2["id"],
                                                "effective_from": "2025-07-01"}))
    assert merged["id"] == c2["id"]
    assert ok(api.get(f"{members}/units/{c1['id']}"))["end_reason"] == "merged"
    children = ok(api.get(f"{members}/units/{ward['id']}/children", params={"date": "2025-07-01"}))
    assert [u["code"] for u in children["units"]] == ["TG-2"]
    tree = ok(api.get(f"{members}/tree", params={"date": "2025-06-30"}))
    assert [u["code"] for u in tree["units"][0]["children"]] == ["TG-1", "TG-2"]
    subtree = ok(api.get(f"{members}/units/{ward['id']}/children", params={"depth": "all"}))
    assert [(u["code"], u["depth"]) for u in subtree["units"]] == [("TG-2", 1)]

    history = ok(api.get(f"{members}/members/{b['id']}/history"))["events"]
    assert [h["type"] for h in history] == ["Admitted", "Transferred", "TemporaryTransferEnded", "Transferred"]
    assert history[-1]["data"]["reason"] == "merge" and history[-1]["recorded_by"] == "apikey:ward-staff"
    assert [h["type"] for h in ok(api.get(f"{members}/units/{c1['id']}/history"))["events"]] == [
        "Created", "MergedInto"]

    ok(post(f"{members}/supervisors/unassign", {"supervisor_id": a["id"], "cell_id": c2["id"],
                                                "effective_from": "2025-09-01"}))
    ok(post(f"{members}/members/{a['id']}/remove", {"reason": "moved_away", "effective_from": "2025-10-01"}))

    seen = []
    wait_for(lambda: seen.extend(tap()) or len(seen) >= 17, what="17 published events")
    types = [rk for rk, _, _ in seen]
    assert types[6:] == ["MemberOfficialized", "MemberExempted", "MemberExemptionLifted", "MemberTransferred",
                         "MemberTemporaryTransferEnded", "SupervisorAssigned", "MemberTransferred",
                         "MemberTransferred", "CellsMerged", "SupervisorUnassigned", "MemberRemoved"]


@pytest.mark.parametrize(
    ("path", "body", "status", "field", "rule"),
    [
        ("members/{b}/transfer", {"to_cell_id": "{c1}", "kind": "official", "effective_from": "2025-01-01"}, 422,
         "to_cell_id", "transfer.same_cell"),
        ("members/{b}/transfer", {"to_cell_id": "{nowhere}", "kind": "official", "effective_from": "2025-01-01"},
         404, "to_cell_id", "unit.exists"),
        ("members/{removed}/exempt", {"reason": "age", "effective_from": "2025-06-01"}, 422, "member_id",
         "member.removed"),
        ("members/{b}/exempt", {"reason": "bored", "effective_from": "2025-06-01"}, 422, "reason", "literal_error"),
        ("members/{b}/confirm", {"official_since": "2025-06-01"}, 422, "member_id", "member.not_probationary"),
        ("members/{b}/remove", {"reason": "deceased", "effective_from": "2025-06-01", "expected_version": 7}, 409,
         "expected_version", "concurrency.version"),
        ("members", {"code": "B", "full_name": "X", "cell_id": "{c1}", "admitted_on": "2020-03-01"}, 409, "code",
         "member.code_unique"),
        ("units/merge", {"source_ids": ["{c1}"], "target_id": "{c1}", "effective_from": "2025-07-01"}, 422,
         "target_id", "merge.into_itself"),
        ("units/merge", {"source_ids": [], "target_id": "{c1}", "effective_from": "2025-07-01"}, 422,
         "source_ids", "too_short"),
        ("units/{c1}/rename", {"name": "X", "effective_from": "2019-01-01"}, 422, "effective_from",
         "unit.before_created"),
        ("units/{c1}/move", {"new_parent_id": "{c1}", "effective_from": "2025-01-01"}, 422, "new_parent_id",
         "tree.cycle"),
        ("units/{ward}/dissolve", {"effective_from": "2025-01-01"}, 422, "unit_id", "unit.not_empty"),
        ("supervisors/unassign", {"supervisor_id": "{b}", "cell_id": "{c1}", "effective_from": "2025-01-01"}, 422,
         "supervisor_id", "supervisor.not_assigned"),
    ],
)
def test_refused_commands_name_the_field_and_the_rule_and_record_nothing(members, path, body, status, field,  # noqa: F811
                                                                         rule):
    ward, c1 = ward_and_cell(members)
    ids = {"ward": ward["id"], "c1": c1["id"], "nowhere": str(uuid.uuid4()), "b": admit(members, c1, "B")["id"]}
    ids["removed"] = admit(members, c1, "R")["id"]
    ok(post(f"{members}/members/{ids['removed']}/remove", {"reason": "deceased", "effective_from": "2025-05-01"}))
    fill = {f"{{{k}}}": v for k, v in ids.items()}

    def sub(value):
        if isinstance(value, list):
            return [sub(v) for v in value]
        return fill.get(value, value) if isinstance(value, str) else value

    before = events(members)
    url = f"{members}/" + path.format(**ids)
    r = post(url, {k: sub(v) for k, v in body.items()})
    assert r.status_code == status, r.text
    assert (r.json()["fields"][0]["field"], r.json()["fields"][0]["rule"]) == (field, rule)
    assert events(members) == before


def test_queries_refuse_bad_parameters(members):  # noqa: F811
    _, c1 = ward_and_cell(members)
    bad = api.get(f"{members}/cells/{c1['id']}/roster", params={"date": "yesterday"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "date"
    bad = api.get(f"{members}/cells/health", params={"unit": "x"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "unit"
    bad = api.get(f"{members}/units/{c1['id']}/children", params={"depth": "7"})
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "depth"
    assert api.get(f"{members}/cells/{uuid.uuid4()}/roster").status_code == 404


def test_a_repeated_transfer_with_its_idempotency_key_is_recorded_once(members):  # noqa: F811
    ward, c1 = ward_and_cell(members)
    c2 = ok(post(f"{members}/units", {"kind": "cell", "name": "Chi bộ 2", "code": "TG-2", "parent_id": ward["id"],
                                      "block": "residential", "effective_from": "2020-01-01"}), 201)
    m = admit(members, c1, "A")
    body = {"to_cell_id": c2["id"], "kind": "official", "effective_from": "2025-01-01"}
    key = {"Idempotency-Key": "transfer-a"}
    first = api.post(f"{members}/members/{m['id']}/transfer", json=body, headers=key, timeout=10)
    again = api.post(f"{members}/members/{m['id']}/transfer", json=body, headers=key, timeout=10)
    assert first.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert [e["type"] for e in events(members)].count("MemberTransferred") == 1
    # without the key, the same form again is a new command: refused, the member is already there
    r = api.post(f"{members}/members/{m['id']}/transfer", json=body, timeout=10)
    assert r.status_code == 422 and r.json()["fields"][0]["rule"] == "transfer.same_cell"
