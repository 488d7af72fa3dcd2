"""An imported register reaches the other services: the meetings roster of each cell lists its members."""

from tests.register_files import ROWS, xlsx
from tests.service.test_embedded_platform import platform  # noqa: F401 - fixture


def test_imported_members_are_on_their_cells_roster(platform):  # noqa: F811
    client = platform.client(platform.api_key("ward-staff"))
    ward = client.post("members", "/units", {"kind": "ward", "name": "Tân Giang", "code": "TG",
                                             "effective_from": "1960-01-01"})
    cells = {}
    for code in ("TG-1", "TG-2"):
        body = {"kind": "cell", "name": code, "code": code, "block": "residential", "parent_id": ward["id"],
                "effective_from": "1960-01-01"}
        cells[code] = client.post("members", "/units", body)["id"]
    report = client.import_register(xlsx(ROWS), ward="TG", apply=True)
    assert report["totals"] == {"rows": 3, "admitted": 3}
    client.wait_caught_up()  # the exemption (MemberExempted) is consumed like any other event
    roster = client.get("meetings", f"/cells/{cells['TG-1']}/roster", date="2025-01-01")["members"]
    assert [(m["full_name"], m["status"]) for m in roster] == [
        ("Nguyễn Thị Ánh Tuyết", "official"), ("Trần Văn Bình", "exempted")]
    later = client.get("meetings", f"/cells/{cells['TG-2']}/roster", date="2025-01-01")["members"]
    assert [(m["full_name"], m["status"]) for m in later] == [("Đặng Quốc Khánh", "probationary")]
