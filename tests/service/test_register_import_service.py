"""POST /members/imports in a nameko container: dry run, apply, re-apply, refusals."""


from services.members.register_import import MAX_BYTES
from services.members.register_sheet import XLSX_TYPE
from tests.register_files import ROWS, csv_file, xlsx
from tests.service.test_services import api, config, members, post  # noqa: F401 - fixtures

CSV = "text/csv; charset=utf-8"


def units(base):
    ward = post(f"{base}/units", {"kind": "ward", "name": "Tân Giang", "code": "TG", "effective_from": "1960-01-01"})
    assert ward.status_code == 201, ward.text
    for code in ("TG-1", "TG-2"):
        cell = post(f"{base}/units", {"kind": "cell", "name": f"Chi bộ {code}", "code": code, "block": "residential",
                                      "parent_id": ward.json()["id"], "effective_from": "1960-01-01"})
        assert cell.status_code == 201, cell.text
    return ward.json()


def send(base, data, content_type=XLSX_TYPE, **params):
    params = {"ward": "TG"} | params
    return api.post(f"{base}/imports", params=params, data=data, timeout=30,
                         headers={"Content-Type": content_type, "X-Correlation-Id": "import-42"})


def published(base):
    return api.get(f"{base}/notifications", params={"limit": 1000}, timeout=10).json()["items"]


def test_dry_run_then_apply_then_apply_again(members):  # noqa: F811
    ward = units(members)
    before = published(members)
    dry = send(members, xlsx(ROWS))
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert (body["dry_run"], body["applied"], body["format"]) == (True, False, "xlsx")
    assert body["ward"] == {"id": ward["id"], "code": "TG", "name": "Tân Giang"}
    assert body["totals"] == {"rows": 3, "admit": 3}
    assert [r["full_name"] for r in body["rows"]] == ["Nguyễn Thị Ánh Tuyết", "Đặng Quốc Khánh", "Trần Văn Bình"]
    assert published(members) == before

    applied = send(members, xlsx(ROWS), dry_run="false")
    assert applied.status_code == 200, applied.text
    assert applied.json()["totals"] == {"rows": 3, "admitted": 3} and applied.json()["applied"] is True
    after = published(members)
    new = after[len(before):]
    assert [e["type"] for e in new] == ["MemberAdmitted", "MemberAdmitted", "MemberAdmitted", "MemberExempted"]
    assert {(e["recorded_by"], e["correlation_id"]) for e in new} == {("apikey:ward-staff", "import-42")}
    sealed = new[0]["payload"]["full_name"]  # published sealed with the member's key (shared/pii.py)
    assert sealed.startswith(f"pii:v1:{new[0]['payload']['member_id']}:") and "Tuyết" not in sealed
    member = api.get(f"{members}/members/{new[0]['payload']['member_id']}", timeout=10).json()
    assert member["full_name"] == "Nguyễn Thị Ánh Tuyết"
    assert new[3]["payload"]["reason"] == "age"

    again = send(members, csv_file(ROWS, sep=";", bom=True), content_type=CSV, dry_run="false")
    assert again.status_code == 200, again.text
    assert again.json()["totals"] == {"rows": 3, "unchanged": 3}
    assert [r["member_id"] for r in again.json()["rows"]] == [r["member_id"] for r in applied.json()["rows"]]
    assert published(members) == after


def test_a_file_without_required_columns_is_refused_naming_them(members):  # noqa: F811
    units(members)
    broken = csv_file([["1", "Lê Hoa"]], header=["STT", "Họ và tên"])
    r = api.post(f"{members}/imports", params={"ward": "TG", "dry_run": "false"},
                      files={"file": ("so-dang-vien.csv", broken, "text/csv")}, timeout=30)
    assert r.status_code == 422, r.text
    assert [(f["field"], f["column"]) for f in r.json()["fields"]] == [
        ("code", "Mã đảng viên"), ("cell_code", "Chi bộ"), ("admitted_on", "Ngày vào Đảng")]
    assert r.json()["message"].startswith("không đọc được tệp")
    en = api.post(f"{members}/imports?lang=en", params={"ward": "TG"},
                       files={"file": ("so.csv", broken, "text/csv")}, timeout=30)
    assert en.json()["fields"][0]["message"].startswith("the required column")


def test_an_apply_with_a_bad_row_is_refused_whole_with_the_report_unless_skipping(members):  # noqa: F811
    units(members)
    rows = [*ROWS, [4, "01004", "Vũ Minh Châu", "", "TG-9", "01/01/2020", "", "", ""]]
    before = published(members)
    r = send(members, xlsx(rows), dry_run="false")
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == [{"field": "cell_code", "column": "Chi bộ", "row": 5, "rule": "import.cell_exists",
                                   "message": "không có chi bộ mã TG-9"}]
    assert r.json()["report"]["totals"] == {"rows": 4, "admit": 3, "problem": 1}
    assert published(members) == before
    skipped = send(members, xlsx(rows), dry_run="false", skip_invalid="true")
    assert skipped.status_code == 200 and skipped.json()["totals"] == {"rows": 4, "admitted": 3, "problem": 1}


def test_bad_parameters_and_oversized_files_are_refused_naming_the_field(members):  # noqa: F811
    units(members)
    cases = [({"ward": "XX"}, 404, "ward"),
             ({"dry_run": "maybe"}, 422, "dry_run"), ({"ward": "TG-1"}, 422, "ward")]
    for params, status, field in cases:
        r = send(members, csv_file(ROWS), content_type=CSV, **params)
        assert (r.status_code, r.json()["fields"][0]["field"]) == (status, field), (params, r.text)
    huge = send(members, b"x" * (MAX_BYTES + 1), content_type=CSV)
    assert huge.status_code == 413 and huge.json()["fields"][0]["field"] == "file"
    assert [e["type"] for e in published(members)] == ["OrgUnitCreated"] * 3
