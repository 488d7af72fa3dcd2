"""Across the services, embedded: what the ward records in the register (supervision, exemption, transfers,
confirmation, removal) decides who a cell's meeting summons, with which status, and how reporting counts it.

The members service publishes; the meetings service's roster replica consumes; reporting consumes both. No
service asks another: each fact travels as an event (design.md §3-4).
"""

from __future__ import annotations

import pytest

from services.runner import EmbeddedPlatform, embedded_config
from tests.conftest import free_port
from tests.service.test_embedded_platform import reset_memory_broker


@pytest.fixture
def client(tmp_path):
    reset_memory_broker()
    platform = EmbeddedPlatform(embedded_config(tmp_path / "var", port=free_port())).start()
    yield platform.client(platform.api_key("cán bộ phường"))
    platform.stop()
    reset_memory_broker()


def statuses(entries):
    return {e["full_name"]: e["status"] for e in entries}


def hold(client, cell, day, present, absent, guests=()):
    """Schedule, then hold, then record attendance (and guests): the secretary's steps."""
    m = client.post("meetings", "/meetings/schedule", {"cell_id": cell, "kind": "regular", "date": day,
                                                       "start_time": "19:30", "place": "Nhà văn hóa"})
    client.post("meetings", f"/meetings/{m['id']}/hold", {"date": day, "start_time": "19:30", "end_time": "21:15"})
    client.post("meetings", f"/meetings/{m['id']}/attendance", {"present": present, "absent": absent})
    if guests:
        client.post("meetings", f"/meetings/{m['id']}/guests", {"guests": [{"guest_id": g} for g in guests]})
    return m, client.get("meetings", f"/meetings/{m['id']}")


def test_register_changes_decide_who_is_summoned_with_which_status_and_how_attendance_counts(client):
    ward = client.post("members", "/units", {"kind": "ward", "name": "Đảng bộ phường Tân Giang", "code": "TG",
                                             "effective_from": "2020-01-01"})

    def cell(code):
        return client.post("members", "/units", {"kind": "cell", "name": f"Chi bộ {code}", "code": code,
                                                 "parent_id": ward["id"], "block": "residential",
                                                 "effective_from": "2020-01-01"})["id"]

    a, b = cell("TG-A"), cell("TG-B")

    def admit(code, name, cell_id, official=True, admitted="2020-03-01"):
        body = {"code": code, "full_name": name, "cell_id": cell_id, "admitted_on": admitted}
        if official:
            body |= {"status": "official", "official_since": "2021-03-02"}
        return client.post("members", "/members", body)["id"]

    an, binh, cuong, dung = (admit(f"A{i}", n, a) for i, n in enumerate(
        ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Văn Dũng"]))
    em = admit("A9", "Hoàng Thị Em", a, official=False, admitted="2024-04-01")
    supervisor = admit("B1", "Đặng Quốc Khánh", b)  # a ward committee member, living in cell B
    client.post("members", "/supervisors", {"supervisor_id": supervisor, "cell_id": a,
                                            "effective_from": "2025-01-01"})
    client.post("members", f"/members/{dung}/exempt", {"reason": "age", "note": "Tuổi cao",
                                                       "effective_from": "2025-03-01"})
    client.post("members", f"/members/{cuong}/transfer", {"to_cell_id": b, "kind": "temporary",
                                                          "effective_from": "2025-04-01", "until": "2025-07-01"})
    client.post("members", f"/members/{em}/confirm", {"official_since": "2025-05-01"})
    client.post("members", f"/members/{binh}/transfer", {"to_cell_id": b, "kind": "official",
                                                         "effective_from": "2025-06-01"})
    client.wait_caught_up()

    # May: the meetings service's replica agrees with the register on every status.
    register = client.get("members", f"/cells/{a}/roster", date="2025-05-10")["members"]
    replica = client.get("meetings", f"/cells/{a}/roster", date="2025-05-10")["members"]
    assert statuses(register) == statuses(replica) == {
        "Nguyễn Văn An": "official", "Trần Thị Bình": "official", "Lê Văn Cường": "temporarily_elsewhere",
        "Phạm Văn Dũng": "exempted", "Hoàng Thị Em": "official"}

    scheduled = client.post("meetings", "/meetings/schedule", {"cell_id": a, "kind": "regular", "date": "2025-05-10",
                                                               "start_time": "19:30"})
    assert [g["guest_id"] for g in scheduled["summoned_guests"]] == [supervisor]  # notified as the supervisor
    _, may = hold(client, a, "2025-05-10", present=[an, binh, em],
                  absent=[{"member_id": dung, "excused": True, "reason": "tuổi cao, sức yếu"},
                          {"member_id": cuong, "excused": True, "reason": "sinh hoạt tạm thời ở chi bộ B"}],
                  guests=[supervisor])
    assert statuses(may["roster"]) == statuses(replica)
    assert may["guests"][0]["is_assigned_supervisor"] is True
    # base = 5 summoned - Cường (elsewhere) - Dũng (exempted, absent) = 3; voting base: the 3 official present
    assert (may["counts"]["present"], may["counts"]["attendance_base"], may["counts"]["voting_base"]) == (3, 3, 3)

    # In cell B, Cường is a temporary participant in May, outside B's bases; Bình joins B in June.
    _, b_may = hold(client, b, "2025-05-12", present=[supervisor], absent=[])
    assert [p["full_name"] for p in b_may["temporary_participants"]] == ["Lê Văn Cường"]
    assert b_may["counts"]["attendance_base"] == 1
    june = client.get("meetings", f"/cells/{a}/roster", date="2025-06-10")["members"]
    assert "Trần Thị Bình" not in statuses(june)
    assert statuses(client.get("meetings", f"/cells/{b}/roster", date="2025-06-10")["members"])["Trần Thị Bình"] \
        == "official"

    # Removal and the end of supervision reach the meetings service too.
    client.post("members", f"/members/{an}/remove", {"reason": "moved_away", "note": "chuyển nơi cư trú",
                                                     "effective_from": "2025-08-01"})
    client.post("members", "/supervisors/unassign", {"supervisor_id": supervisor, "cell_id": a,
                                                     "effective_from": "2025-08-01"})
    client.wait_caught_up()
    august = client.post("meetings", "/meetings/schedule", {"cell_id": a, "kind": "regular", "date": "2025-08-10",
                                                            "start_time": "19:30"})
    assert "Nguyễn Văn An" not in {s["full_name"] for s in august["summoned"]}
    assert august["summoned_guests"] == []
    _, august_held = hold(client, a, "2025-08-12", present=[cuong, em], absent=[
        {"member_id": dung, "excused": False}])
    assert statuses(august_held["roster"]) == {"Lê Văn Cường": "official", "Phạm Văn Dũng": "exempted",
                                               "Hoàng Thị Em": "official"}

    # Reporting counts each month by the statuses frozen into the meetings (event-carried state).
    client.wait_caught_up()
    rows = {(r["cell_code"], r["month"]): r for r in client.cell_months("2025-05", "2025-08", ward["id"])}
    assert (rows[("TG-A", "2025-05")]["present"], rows[("TG-A", "2025-05")]["attendance_base"]) == (3, 3)
    assert (rows[("TG-B", "2025-05")]["present"], rows[("TG-B", "2025-05")]["attendance_base"]) == (1, 1)
    # August: the exempted member's absence (even unexcused) is outside the base
    assert (rows[("TG-A", "2025-08")]["present"], rows[("TG-A", "2025-08")]["attendance_base"]) == (2, 2)
    assert rows[("TG-A", "2025-07")]["meetings"] == 0
