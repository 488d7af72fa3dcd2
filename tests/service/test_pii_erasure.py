"""Crypto-shredding end to end, on the embedded platform: a ward's year, then one member erased with
`chibo member erase`. No store ever holds a name in clear; after the erasure the member's name is the
placeholder in every answer (members, meetings, minutes, reporting, exports) while other members' names, the
counts and the roll-up figures are what they were, and the event stores' audit chain still verifies."""

import html
import io
import zipfile
from pathlib import Path

from services.cli import main
from services.demo import build_ward
from shared.pii import PLACEHOLDER
from tests.service.test_embedded_platform import platform  # noqa: F401 - the fixture (data under tmp_path/var)

YEAR = 2025


def raw_store_bytes(data_dir: Path) -> bytes:
    """Every byte of every store file (SQLite databases and their write-ahead logs) under the data dir."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


def xlsx_text(content: bytes) -> str:
    """Every XML part of the workbook, character references resolved (openpyxl writes "&#7897;" for "ộ")."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return html.unescape("".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml")))


def exports(client, ward):
    base = f"{client.urls['reporting']}/reporting/exports"
    params = {"unit": ward, "year": str(YEAR)}
    xlsx = client.session.get(f"{base}/flagged.xlsx", params=params)
    csv = client.session.get(f"{base}/flagged.csv", params=params)
    assert xlsx.status_code == 200 and csv.status_code == 200
    return xlsx_text(xlsx.content), csv.content.decode("utf-8-sig")


def absent_three_times(client, result) -> str:
    """Three thematic meetings of the largest cell in December, two members absent without excuse (flagged),
    and a guest from outside the register whose name is typed in. Returns that name."""
    day = f"{YEAR}-12-01"
    rosters = {cell: client.get("members", f"/cells/{cell}/roster", date=day)["members"]
               for cell in result.cell_ids.values()}
    cell, roster = max(rosters.items(), key=lambda kv: len(kv[1]))
    home = [m for m in roster if m["status"] in ("official", "probationary", "exempted")]
    absent, present = home[:2], home[2:]
    guest = "Phạm Khách Mời Thử"
    for n, date in enumerate((f"{YEAR}-12-05", f"{YEAR}-12-12", f"{YEAR}-12-19")):
        client.post("meetings", "/meetings", {
            "cell_id": cell, "kind": "thematic", "topic": f"Chuyên đề {n + 1}", "date": date,
            "start_time": "19:00:00", "end_time": "21:00:00", "place": "Nhà văn hóa",
            "present": [m["member_id"] for m in present],
            "absent": [{"member_id": m["member_id"], "excused": False} for m in absent],
            "guests": [{"guest_id": "5d9f4a51-7d43-4d1e-9a51-6f0c2b7e8a10", "full_name": guest}]})
    return guest


def replica_names(client, result) -> dict[str, str]:
    """member id -> name, from the meetings service's roster replica (GET /meetings/cells/<id>/roster)."""
    return {m["member_id"]: m["full_name"] for cell in result.cell_ids.values()
            for m in client.get("meetings", f"/cells/{cell}/roster", date=f"{YEAR}-12-01")["members"]}


def drilled_names(client, ward) -> dict[str, str]:
    items = client.get("reporting", "/compliance/drill", unit=ward, period=str(YEAR), figure="flagged_members",
                       page_size=1000)["items"]
    return {m["member_id"]: m["full_name"] for m in items}


def test_erasing_a_member_makes_their_name_unreadable_everywhere_and_keeps_the_figures(platform, tmp_path):  # noqa: F811
    data_dir = tmp_path / "var"
    client = platform.client(platform.api_key("demo"))
    result = build_ward(client, YEAR, seed=5)
    client.wait_caught_up()
    ward = result.ward_id

    guest_name = absent_three_times(client, result)
    client.wait_caught_up()

    flagged = client.get("reporting", "/compliance/member-years", year=str(YEAR), unit=ward, flagged="true",
                         page_size=1000)["items"]
    assert len(flagged) >= 2
    gone, kept = flagged[0], flagged[1]
    name, other = gone["full_name"], kept["full_name"]
    everyone_plus_guest = {name, other, guest_name}
    assert name != other and PLACEHOLDER not in (name, other)
    everyone = {m["full_name"] for cell in result.cell_ids.values()
                for m in client.get("members", f"/cells/{cell}/roster", date=f"{YEAR}-06-30")["members"]}
    assert name in everyone and len(everyone) > 5

    # Before: the API shows names, the exports carry them, and no store file holds any of them in clear.
    raw = raw_store_bytes(data_dir)
    assert [n for n in everyone | everyone_plus_guest if n.encode() in raw] == []
    xlsx, csv = exports(client, ward)
    assert name in xlsx and name in csv and other in xlsx and other in csv
    rollup_before = client.rollup(str(YEAR), ward)["figures"]
    replica = replica_names(client, result)
    assert replica[gone["member_id"]] == name and replica[kept["member_id"]] == other
    assert drilled_names(client, ward)[gone["member_id"]] == name
    years_before = {m["member_id"]: {k: v for k, v in m.items() if k != "full_name"} for m in flagged}
    member_before = client.get("members", f"/members/{gone['member_id']}")
    meeting_id = next(m["meeting_id"] for m in client.get("reporting", f"/members/{gone['member_id']}",
                                                         year=str(YEAR))["meetings"])
    assert main(["audit", "checkpoint", "--service", "all", "--embedded", "--data-dir", str(data_dir)]) == 0

    assert main(["member", "erase", gone["member_id"], "--reason", "yêu cầu xóa dữ liệu cá nhân",
                 "--by", "Văn phòng Đảng ủy", "--embedded", "--data-dir", str(data_dir)]) == 0
    import time

    time.sleep(1.2)  # the services' key caches (KeyRing.ttl)

    # After: the placeholder everywhere the name was shown; the others unchanged; the figures unchanged.
    member_after = client.get("members", f"/members/{gone['member_id']}")
    assert member_after["full_name"] == PLACEHOLDER and member_after["born_on"] is None
    assert {k: v for k, v in member_after.items() if k not in ("full_name", "born_on")} == \
        {k: v for k, v in member_before.items() if k not in ("full_name", "born_on")}
    assert client.get("members", f"/members/{kept['member_id']}")["full_name"] == other
    history = client.get("members", f"/members/{gone['member_id']}/history")["events"]
    assert history[0]["data"]["full_name"] == PLACEHOLDER

    flagged_after = client.get("reporting", "/compliance/member-years", year=str(YEAR), unit=ward, flagged="true",
                               page_size=1000)["items"]
    names_after = {m["member_id"]: m["full_name"] for m in flagged_after}
    assert names_after[gone["member_id"]] == PLACEHOLDER and names_after[kept["member_id"]] == other
    assert {m["member_id"]: {k: v for k, v in m.items() if k != "full_name"} for m in flagged_after} == years_before
    assert client.rollup(str(YEAR), ward)["figures"] == rollup_before

    replica = replica_names(client, result)
    assert replica[gone["member_id"]] == PLACEHOLDER and replica[kept["member_id"]] == other
    drilled = drilled_names(client, ward)
    assert drilled[gone["member_id"]] == PLACEHOLDER and drilled[kept["member_id"]] == other
    detail = client.get("reporting", f"/meetings/{meeting_id}")
    roster_names = {r["member_id"]: r["full_name"] for r in detail["roster"]}
    assert roster_names[gone["member_id"]] == PLACEHOLDER
    events = client.get("reporting", f"/members/{gone['member_id']}/events", page_size=1000)["items"]
    assert name not in repr(events)
    meeting = client.get("meetings", f"/meetings/{meeting_id}")
    assert {r["member_id"]: r["full_name"] for r in meeting["roster"]}[gone["member_id"]] == PLACEHOLDER
    minutes = client.session.get(f"{client.urls['meetings']}/meetings/meetings/{meeting_id}/minutes")
    assert minutes.status_code == 200 and name not in minutes.text

    xlsx, csv = exports(client, ward)
    assert name not in xlsx and name not in csv
    assert other in xlsx and other in csv and PLACEHOLDER in xlsx and PLACEHOLDER in csv
    raw = raw_store_bytes(data_dir)
    assert name.encode() not in raw

    # The stored bytes are untouched: the hash chain over them verifies.
    assert main(["audit", "verify", "--service", "all", "--embedded", "--data-dir", str(data_dir)]) == 0
