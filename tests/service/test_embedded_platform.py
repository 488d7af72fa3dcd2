"""All three services in one process (the embedded default): the slice end to end, and poison messages."""

import json

import pytest
from kombu import Connection, Producer

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
    client = platform.client(platform.api_key("demo"))
    result = build_ward(client, 2025, seed=5)
    rows = rows_by_cell_month(client, result.ward_id, 2025)
    assert set(rows) == set(result.expected)
    for key, (meetings, present, base) in result.expected.items():
        r = rows[key]
        assert (r["meetings"], r["present"], r["attendance_base"]) == (meetings, present, base), key
        assert r["regular_held"] == (meetings > 0)
        assert r["attendance_rate"] == (round(present / base, 4) if base else None)
    assert any(m == 0 for m, _, _ in result.expected.values())  # the scenario does include missed months
    check_the_year_through_the_api(client, result)
    check_the_reporting_api(client, result)


def check_the_reporting_api(client, result):
    """The roll-up of the ward equals the sums of what the client sent; drill-down, ETags, pages, refusals."""
    year, ward = result.year, result.ward_id
    rollup = client.rollup(str(year), ward, tree="period")
    f = rollup["figures"]
    met_all = {code for code, _ in result.expected} - {code for (code, _), (m, _, _) in result.expected.items()
                                                       if m == 0}
    cells = {code for code, _ in result.expected}
    assert f["cells"] == len(cells)
    assert f["regular_every_month"] == {"count": len(met_all), "of": len(cells),
                                        "rate": round(len(met_all) / len(cells), 4)}
    assert f["meetings"] == sum(m for m, _, _ in result.expected.values())
    present = sum(p for _, p, _ in result.expected.values())
    base = sum(b for _, _, b in result.expected.values())
    assert f["attendance"] == {"present": present, "base": base, "rate": round(present / base, 4)}
    assert f["resolutions_passed"] == result.story.passed
    assert f["supervisor_coverage"]["count"] == result.story.supervised
    assert rollup["report"][0].startswith(f"{round(100 * len(met_all) / len(cells))}% chi bộ duy trì")
    english = client.get("reporting", "/compliance/rollup", unit=ward, period=str(year), lang="en")
    assert english["report"][0].endswith("in the administrative block.")
    # drill-down: the meetings behind the attendance figure, each to its events and who recorded them
    drill = client.get("reporting", rollup["drill"]["attendance"].removeprefix("/reporting"), page_size=5)
    assert drill["total"] == f["meetings"] and len(drill["items"]) == 5
    events = client.get("reporting", drill["items"][0]["links"]["events"].removeprefix("/reporting"))
    assert events["items"][0]["type"] == "MeetingHeld"
    assert {e["recorded_by"] for e in events["items"]} == {"apikey:demo"}  # the caller's credential
    # an unchanged answer is not sent twice
    url = f"{client.urls['reporting']}/reporting/compliance/rollup"
    first = client.session.get(url, params={"unit": ward, "period": str(year)})
    again = client.session.get(url, params={"unit": ward, "period": str(year)},
                               headers={"If-None-Match": first.headers["ETag"]})
    assert first.status_code == 200 and again.status_code == 304
    # kept: the same roll-up asked again (no event since) is served from memory, not computed again
    computed, hits = answer_count("computed"), answer_count("hit")
    kept = client.session.get(url, params={"unit": ward, "period": str(year)})
    assert kept.json() == first.json() and kept.headers["ETag"] == first.headers["ETag"]
    assert (answer_count("computed"), answer_count("hit")) == (computed, hits + 1)
    client.session.get(url, params={"unit": ward, "period": str(year), "by": "children"})  # another answer
    assert answer_count("computed") == computed + 1
    # pages
    page = client.get("reporting", "/compliance/cell-months", **{"from": f"{year}-01", "to": f"{year}-12"},
                      unit=ward, page=2, page_size=7)
    assert (page["total"], page["page"], len(page["items"])) == (len(result.expected), 2, 7)
    # exports as party documents
    base = f"{client.urls['reporting']}/reporting/exports"
    xlsx = client.session.get(f"{base}/rollup.xlsx", params={"unit": ward, "period": str(year)})
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert xlsx.headers["Content-Disposition"].startswith("attachment; filename=") and ".xlsx" in \
        xlsx.headers["Content-Disposition"]
    computed = answer_count("computed")
    again = client.session.get(f"{base}/rollup.xlsx", params={"unit": ward, "period": str(year)})
    assert again.content == xlsx.content and answer_count("computed") == computed  # kept, as the roll-up
    flagged = client.session.get(f"{base}/flagged.csv", params={"unit": ward, "year": str(year)})
    assert flagged.status_code == 200 and flagged.content.startswith("\ufeff".encode())
    assert "ĐẢNG CỘNG SẢN VIỆT NAM" in flagged.content.decode("utf-8-sig")
    assert client.session.get(f"{base}/rollup.pdf").status_code == 404
    # refusals name the parameter
    for params, status, field in (({"period": f"{year}-13"}, 422, "period"), ({"period": "2999"}, 422, "period"),
                                  ({"period": str(year), "unit": "NO-SUCH-UNIT"}, 404, "unit")):
        r = client.session.get(url, params=params)
        assert r.status_code == status and r.json()["fields"][0]["field"] == field, params


def answer_count(outcome):
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("chibo_answer_cache_total", {"service": "reporting", "outcome": outcome}) or 0


def meetings_of(client, cell_id, first, last):
    return [client.get("meetings", f"/meetings/{m['id']}")
            for m in client.get("meetings", f"/cells/{cell_id}/meetings", **{"from": first, "to": last})["meetings"]]


def check_the_year_through_the_api(client, result):
    """The register's and the meetings' life the demo recorded, as the services answer it."""
    story, year = result.story, result.year
    assert story.step_by_step > story.one_form > 0  # both forms are shown, most meetings step by step
    assert story.closed == story.step_by_step and story.passed > 0
    # the minutes of a closed meeting, in the cell's name, the assigned supervisor attending as such
    minutes = client.get("meetings", f"/meetings/{story.minutes_meeting}")
    assert minutes["status"] == "closed" and minutes["resolutions"] and minutes["agenda"]
    [guest] = minutes["guests"]
    assert guest["is_assigned_supervisor"] and minutes["cell_id"] in story.supervisors[guest["guest_id"]]
    url = f"{client.urls['meetings']}/meetings/meetings/{story.minutes_meeting}/minutes"
    html = client.session.get(url, params={"format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Chi bộ Khu phố 1" in html.text and guest["full_name"] in html.text
    docx = client.session.get(url, params={"format": "docx"})
    assert docx.status_code == 200 and docx.content.startswith(b"PK")
    # the member temporarily in Khu phố 1 takes part there, outside its figures, and is outside the home base
    assert [p["member_id"] for p in minutes["temporary_participants"]] == [story.temporary]
    assert story.temporary not in {e["member_id"] for e in minutes["roster"]}
    home = client.get("members", f"/members/{story.temporary}")["cell_id"]
    [away] = [m for m in meetings_of(client, home, f"{year}-04-01", f"{year}-04-30")]
    [entry] = [e for e in away["roster"] if e["member_id"] == story.temporary]
    assert entry["status"] == "temporarily_elsewhere"
    assert away["counts"]["attendance_base"] < away["counts"]["summoned"]
    # the member exempted from July: official on the rosters before, exempted after, outside the base if absent
    elder = client.get("members", f"/members/{story.exempted}")
    assert elder["exemption"]["reason"] == "age"
    statuses = {m["date"]: next(e["status"] for e in m["roster"] if e["member_id"] == story.exempted)
                for m in meetings_of(client, elder["cell_id"], f"{year}-01-01", f"{year}-12-31")}
    assert {s for d, s in statuses.items() if d < story.exempted_from.isoformat()} == {"official"}
    assert {s for d, s in statuses.items() if d >= story.exempted_from.isoformat()} == {"exempted"}
    # a confirmed member, a newly admitted one, a removed one
    assert client.get("members", f"/members/{story.confirmed}")["status"] == "official"
    assert client.get("members", f"/members/{story.admitted}")["status"] == "probationary"
    assert client.get("members", f"/members/{story.removed}")["active"] is False
    # the attendance and dues forms sent twice with the same key were recorded once
    events = [e["type"] for e in client.get("meetings", f"/meetings/{story.resubmitted}/history")["events"]]
    resubmitted = client.get("meetings", f"/meetings/{story.resubmitted}")
    assert events.count("MemberAttended") == resubmitted["counts"]["present"] > 0
    assert events.count("MemberAttended") + events.count("MemberAbsent") == resubmitted["counts"]["summoned"]
    assert events.count("DuesCollected") == resubmitted["counts"]["present"]


def dead_letters(queue_name):
    return [(body, headers) for _, body, headers in drain("memory://chibo/", queue_name)]


def test_a_poison_message_is_dead_lettered_with_its_reason_and_the_stream_goes_on(platform):
    client = platform.client(platform.api_key("demo"))
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
    client = platform.client(platform.api_key("demo"))
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
