"""Bulk import of a ward's register: reading XLSX/CSV files, checking rows (dry run), applying idempotently."""

import datetime as dt
import re
import unicodedata
import uuid

import pytest

from services.members.application import MembersApplication
from services.members.register_import import import_register, resolve_ward
from services.members.register_sheet import (
    ImportRefused,
    exemption_reason,
    header_key,
    parse_date,
    read_register,
)
from shared.errors import DomainError, NotFound
from shared.stores import event_store_env
from tests.register_files import HEADER, ROWS, csv_file, xlsx

TODAY = dt.date(2026, 11, 23)


def make_app(env, cls=MembersApplication):
    app = cls(env=env, today=lambda: TODAY)
    ward = app.create_unit(kind="ward", name="Tân Giang", code="TG", parent_id=None, block=None,
                           effective_from=dt.date(1960, 1, 1), by="s")
    for code in ("TG-1", "TG-2"):
        app.create_unit(kind="cell", name=f"Chi bộ {code}", code=code, parent_id=ward.id, block="residential",
                        effective_from=dt.date(1960, 1, 1), by="s")
    other = app.create_unit(kind="ward", name="Khương Đình", code="KD", parent_id=None, block=None,
                            effective_from=dt.date(1960, 1, 1), by="s")
    app.create_unit(kind="cell", name="Chi bộ KD-1", code="KD-1", parent_id=other.id, block="residential",
                    effective_from=dt.date(1960, 1, 1), by="s")
    return app


@pytest.fixture
def app():
    return make_app({"PERSISTENCE_MODULE": "eventsourcing.popo"})


def dry(app, data, **kw):
    args = {"ward": "TG", "dry_run": True, "skip_invalid": False, "by": "ward-staff", "correlation_id": "imp-1"} | kw
    return import_register(app, data, **args)


def problems(report):
    return [(p.row, p.column, p.field, p.rule) for p in report.problems]


# --- reading --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [xlsx, csv_file], ids=["xlsx", "csv"])
def test_a_clean_register_reads_every_row_with_its_spreadsheet_row_number(make):
    sheet = read_register(make(ROWS))
    assert sheet.format == ("xlsx" if make is xlsx else "csv")
    assert [n for n, _ in sheet.rows] == [2, 3, 4]
    assert sheet.columns["full_name"] == "Họ và tên" and sheet.warnings == []
    assert sheet.rows[0][1]["full_name"] == "Nguyễn Thị Ánh Tuyết"


def test_headers_match_without_case_diacritics_or_notes_and_title_rows_are_skipped():
    header = ["TT", "Số thẻ đảng viên", "HỌ TÊN", "Ngày sinh (dd/mm/yyyy)", "mã chi bộ", "Ngày kết nạp *",
              "NGAY CHINH THUC", "Ghi chú miễn", "Ngày  miễn", "Quê quán"]
    sheet = read_register(xlsx([[1, "A1", "Lê Hoa", "", "TG-1", "01/01/2020", "", "", "", "Hà Nội"]], header,
                               title_rows=2))
    assert sheet.header_row == 3 and [n for n, _ in sheet.rows] == [4]
    assert sheet.columns == {"row_no": "TT", "code": "Số thẻ đảng viên", "full_name": "HỌ TÊN",
                             "born_on": "Ngày sinh (dd/mm/yyyy)", "cell_code": "mã chi bộ",
                             "admitted_on": "Ngày kết nạp *", "official_since": "NGAY CHINH THUC",
                             "exemption": "Ghi chú miễn", "exempted_on": "Ngày miễn"}
    [warning] = sheet.warnings
    assert (warning.row, warning.column, warning.rule) == (3, "Quê quán", "header.unknown")
    assert header_key("Mã ĐV") == header_key("mã đv") == "ma dv"


@pytest.mark.parametrize("make", [xlsx, csv_file], ids=["xlsx", "csv"])
def test_a_file_without_required_columns_is_refused_whole_naming_them(make):
    header = ["STT", "Mã đảng viên", "Ngày sinh", "Chi bộ"]
    with pytest.raises(ImportRefused) as err:
        read_register(make([[1, "A1", "", "TG-1"]], header))
    assert [(p.field, p.column, p.rule) for p in err.value.problems] == [
        ("full_name", "Họ và tên", "file.missing_column"), ("admitted_on", "Ngày vào Đảng", "file.missing_column")]
    body = err.value.body("vi")
    assert [f["field"] for f in body["fields"]] == ["full_name", "admitted_on"]
    assert body["fields"][0]["message"].startswith("thiếu cột bắt buộc \"Họ và tên\"")
    assert err.value.body("en")["fields"][0]["message"].startswith("the required column \"Họ và tên\" is missing")


def test_two_columns_saying_the_same_are_refused():
    with pytest.raises(ImportRefused) as err:
        read_register(csv_file([], [*HEADER, "Họ tên"]))
    assert [(p.column, p.rule) for p in err.value.problems] == [("Họ tên", "file.duplicate_column")]


def test_csv_with_a_bom_and_semicolons_as_excel_writes_it_in_a_vietnamese_locale():
    sheet = read_register(csv_file(ROWS, sep=";", bom=True))
    assert sheet.columns["row_no"] == "STT"  # the BOM is not part of the first header
    assert [c["code"] for _, c in sheet.rows] == ["01001", "01002", "01003"]
    tabs = read_register(csv_file(ROWS, sep="\t"))
    assert tabs.rows == sheet.rows


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", "file.empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "file.format"),  # Excel 97-2003
        (b"PK\x03\x04 not really a zip", "file.format"),
        (b"M\xe3 \xf0\xe1ng vi\xean,H\xf2 t\xean\n", "file.encoding"),  # a Windows code page, not UTF-8
    ],
)
def test_unreadable_files_are_refused(data, rule):
    with pytest.raises(ImportRefused) as err:
        read_register(data)
    assert (err.value.field, err.value.rule) == ("file", rule)


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("05/01/2026", dt.date(2026, 1, 5)),
        ("5/1/2026", dt.date(2026, 1, 5)),
        (" 2026-01-05 ", dt.date(2026, 1, 5)),
        ("05-01-2026", dt.date(2026, 1, 5)),
        ("05.01.2026", dt.date(2026, 1, 5)),
        ("2026-01-05 00:00:00", dt.date(2026, 1, 5)),
        (dt.datetime(2026, 1, 5, 0, 0), dt.date(2026, 1, 5)),
        (dt.date(2026, 1, 5), dt.date(2026, 1, 5)),
        ("", None),
        (None, None),
    ],
)
def test_dates_as_wards_write_them(raw, day):
    assert parse_date(raw) == day


@pytest.mark.parametrize("raw", ["31/02/2020", "2020", "5 tháng 1 2026", "01/13/2020", 45000])
def test_what_is_not_a_date(raw):
    with pytest.raises(ValueError):
        parse_date(raw)


def test_real_excel_dates_and_numeric_codes_are_read():
    row = [1, 1001, "Lê Hoa", dt.datetime(1980, 5, 17), "TG-1", dt.datetime(2010, 2, 3), None, None, None]
    [plan] = dry(make_app({"PERSISTENCE_MODULE": "eventsourcing.popo"}), xlsx([row])).plans
    assert (plan.code, plan.outcome, plan.admission["born_on"]) == ("1001", "admit", dt.date(1980, 5, 17))


@pytest.mark.parametrize(
    ("written", "reason"),
    [("Tuổi cao", "age"), ("TUOI CAO, sức yếu", "age"), ("Sức khỏe yếu", "health"), ("sức khoẻ", "health"),
     ("Điều trị dài ngày", "long_treatment"), ("Đi công tác nước ngoài", "work_abroad"), ("x", "other"), ("✓", "other"),
     ("Lý do gia đình", "other"), ("", None), ("  ", None)],
)
def test_exemption_reasons_as_written(written, reason):
    assert exemption_reason(unicodedata.normalize("NFC", written)) == reason


# --- checking (dry run) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [xlsx, csv_file], ids=["xlsx", "csv"])
def test_dry_run_of_a_clean_file_plans_every_admission_and_records_nothing(app, make):
    before = app.recorder.max_notification_id()
    report = dry(app, make(ROWS))
    assert [(p.row, p.outcome) for p in report.plans] == [(2, "admit"), (3, "admit"), (4, "admit")]
    assert report.totals() == {"rows": 3, "admit": 3}
    official, probationary, exempted = report.plans
    assert official.admission["status"] == "official" and probationary.admission["status"] == "probationary"
    assert exempted.exemption == {"reason": "age", "note": "Tuổi cao", "effective_from": dt.date(2020, 1, 1)}
    assert app.recorder.max_notification_id() == before


@pytest.mark.parametrize(("written", "note"), [("x", ""), ("✓", ""), ("Có", ""), ("Lý do gia đình", "Lý do gia đình")])
def test_a_tick_in_the_exemption_column_exempts_for_another_reason_without_a_note(app, written, note):
    [plan] = dry(app, xlsx([row(**{"Miễn sinh hoạt": written, "Ngày miễn": "01/06/2021"})])).plans
    assert plan.exemption == {"reason": "other", "note": note, "effective_from": dt.date(2021, 6, 1)}
    assert plan.outcome == "admit"


def test_names_are_normalised_to_nfc_with_spaces_collapsed(app):
    decomposed = unicodedata.normalize("NFD", "  Nguyễn   Thị Ánh\tTuyết ")
    row = [1, "01001", decomposed, "", "TG-1", "03/02/2010", "", "", ""]
    [plan] = dry(app, csv_file([row])).plans
    assert plan.full_name == "Nguyễn Thị Ánh Tuyết" == unicodedata.normalize("NFC", plan.full_name)


def row(**changes):
    values = dict(zip(HEADER, [1, "09001", "Phạm Thu Hà", "", "TG-1", "01/03/2015", "", "", ""], strict=True))
    return list((values | changes).values())


@pytest.mark.parametrize(
    ("changes", "column", "field", "rule"),
    [
        ({"Mã đảng viên": ""}, "Mã đảng viên", "code", "import.required"),
        ({"Họ và tên": " "}, "Họ và tên", "full_name", "import.required"),
        ({"Chi bộ": ""}, "Chi bộ", "cell_code", "import.required"),
        ({"Ngày vào Đảng": ""}, "Ngày vào Đảng", "admitted_on", "import.required"),
        ({"Ngày vào Đảng": "31/02/2015"}, "Ngày vào Đảng", "admitted_on", "import.date_format"),
        ({"Ngày sinh": "1970"}, "Ngày sinh", "born_on", "import.date_format"),
        ({"Chi bộ": "TG-9"}, "Chi bộ", "cell_code", "import.cell_exists"),
        ({"Chi bộ": "TG"}, "Chi bộ", "cell_code", "import.cell_kind"),
        ({"Chi bộ": "KD-1"}, "Chi bộ", "cell_code", "import.cell_in_ward"),
        ({"Mã đảng viên": "09 001"}, "Mã đảng viên", "code", "string_pattern_mismatch"),
        ({"Ngày vào Đảng": "24/11/2026"}, "Ngày vào Đảng", "admitted_on", "date.not_future"),
        ({"Ngày chính thức": "01/12/2015"}, "Ngày chính thức", "official_since", "member.probation_length"),
        ({"Ngày sinh": "01/03/2015"}, "Ngày sinh", "born_on", "member.born_before_admission"),
        ({"Miễn sinh hoạt": "Sức khỏe"}, "Ngày miễn", "exempted_on", "import.exemption_date"),
        ({"Ngày miễn": "01/01/2020"}, "Miễn sinh hoạt", "exemption", "import.exemption_reason"),
        ({"Miễn sinh hoạt": "Sức khỏe", "Ngày miễn": "01/01/2014"}, "Ngày miễn", "exempted_on",
         "member.before_admission"),
        ({"Miễn sinh hoạt": "Sức khỏe", "Ngày miễn": "01/01/2027"}, "Ngày miễn", "exempted_on", "date.not_future"),
    ],
)
@pytest.mark.parametrize("make", [xlsx, csv_file], ids=["xlsx", "csv"])
def test_each_problem_names_its_row_and_column_and_records_nothing(app, make, changes, column, field, rule):
    rows = [ROWS[0], row(**changes)]
    before = app.recorder.max_notification_id()
    report = dry(app, make(rows))
    assert problems(report) == [(3, column, field, rule)]
    assert [p.outcome for p in report.plans] == ["admit", "problem"]
    [problem] = report.problems
    assert problem.vi and problem.message and problem.vi != problem.message
    assert app.recorder.max_notification_id() == before


def test_a_row_reports_every_problem_it_has_and_the_report_is_in_either_language(app):
    bad = row(**{"Mã đảng viên": "", "Ngày sinh": "hôm qua", "Chi bộ": "TG-9", "Ngày vào Đảng": "x"})
    report = dry(app, csv_file([bad]))
    assert [(p.column, p.rule) for p in report.problems] == [
        ("Mã đảng viên", "import.required"), ("Ngày sinh", "import.date_format"),
        ("Ngày vào Đảng", "import.date_format"), ("Chi bộ", "import.cell_exists")]
    vi = report.to_json("vi")["rows"][0]["problems"]
    en = report.to_json("en")["rows"][0]["problems"]
    assert vi[3] == {"row": 2, "column": "Chi bộ", "field": "cell_code", "rule": "import.cell_exists",
                     "message": "không có chi bộ mã TG-9"}
    assert en[3]["message"] == "no cell with the code TG-9"


def test_a_code_twice_in_the_file_is_a_problem_on_the_later_row(app):
    report = dry(app, xlsx([ROWS[0], ROWS[1], row(**{"Mã đảng viên": "01001"})]))
    assert problems(report) == [(4, "Mã đảng viên", "code", "import.duplicate_code")]
    assert "dòng 2" in report.problems[0].vi


def test_the_ward_is_given_by_code_or_id_and_must_be_above_the_cells(app):
    ward = resolve_ward(app, "tg")
    assert resolve_ward(app, str(ward.id)).id == ward.id
    with pytest.raises(NotFound) as err:
        resolve_ward(app, "XX")
    assert err.value.field == "ward"
    with pytest.raises(NotFound):
        resolve_ward(app, str(uuid.uuid4()))
    with pytest.raises(DomainError) as err:
        resolve_ward(app, "TG-1")
    assert (err.value.field, err.value.rule) == ("ward", "import.ward_kind")
    with pytest.raises(DomainError) as err:
        resolve_ward(app, " ")
    assert err.value.rule == "import.ward_required"


# --- applying -------------------------------------------------------------------------------------------


def apply(app, data, **kw):
    return dry(app, data, dry_run=False, **kw)


REGISTER_FIELDS = ("code", "full_name", "admitted_on", "status", "official_since", "born_on", "exemption")


def register(app):
    """Every member in the register, as the member query shows them (without ids and versions)."""
    members = []
    for n in app.recorder.select_notifications(start=1, limit=10_000):
        if n.topic.endswith("Member.Admitted"):
            shown = app.member(n.originator_id)
            members.append({k: shown[k] for k in REGISTER_FIELDS})
    return members


@pytest.mark.parametrize("make", [xlsx, csv_file], ids=["xlsx", "csv"])
def test_apply_admits_each_row_and_a_second_run_changes_nothing(store_settings, make):
    app = make_app(event_store_env(store_settings, f"imp{uuid.uuid4().hex[:6]}"))
    first = apply(app, make(ROWS))
    assert [p.outcome for p in first.plans] == ["admitted", "admitted", "admitted"]
    assert first.totals() == {"rows": 3, "admitted": 3} and first.applied
    assert register(app) == [
        {"code": "01001", "full_name": "Nguyễn Thị Ánh Tuyết", "admitted_on": "2010-02-03", "status": "official",
         "official_since": "2011-02-03", "born_on": "1980-05-17", "exemption": None},
        {"code": "01002", "full_name": "Đặng Quốc Khánh", "admitted_on": "2024-09-02", "status": "probationary",
         "official_since": None, "born_on": "1975-01-09", "exemption": None},
        {"code": "01003", "full_name": "Trần Văn Bình", "admitted_on": "1965-05-19", "status": "official",
         "official_since": "1966-05-19", "born_on": "1940-01-01",
         "exemption": {"reason": "age", "note": "Tuổi cao", "since": "2020-01-01"}},
    ]
    member = app.repository.get(first.plans[2].member_id)
    assert app.unit(member.cell_id)["code"] == "TG-1"
    recorded = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10_000)
                if ":Member." in n.topic]
    assert len(recorded) == 4  # three admissions, one exemption
    assert {(e.recorded_by, e.correlation_id) for e in recorded} == {("ward-staff", "imp-1")}
    position = app.recorder.max_notification_id()

    again = apply(app, make(ROWS))
    assert [p.outcome for p in again.plans] == ["unchanged", "unchanged", "unchanged"]
    assert again.totals() == {"rows": 3, "unchanged": 3}
    assert [p.member_id for p in again.plans] == [p.member_id for p in first.plans]
    assert app.recorder.max_notification_id() == position
    app.close()


def test_a_member_in_the_register_with_different_data_is_reported_never_overwritten(store_settings):
    app = make_app(event_store_env(store_settings, f"imp{uuid.uuid4().hex[:6]}"))
    apply(app, xlsx(ROWS))
    position = app.recorder.max_notification_id()
    changed = [[*ROWS[0][:4], "TG-2", *ROWS[0][5:]],  # another cell
               ROWS[1], [*ROWS[2][:7], "Sức khỏe", "01/01/2020"]]  # another reason
    report = dry(app, xlsx(changed))
    assert problems(report) == [(2, "Chi bộ", "cell_code", "import.exists_different"),
                                (4, "Miễn sinh hoạt", "exemption", "import.exists_different")]
    assert "(Chi bộ)" in report.problems[0].vi
    with pytest.raises(ImportRefused) as err:
        apply(app, xlsx(changed))
    assert err.value.report.totals() == {"rows": 3, "problem": 2, "unchanged": 1}
    skipped = apply(app, xlsx(changed), skip_invalid=True)
    assert [p.outcome for p in skipped.plans] == ["problem", "unchanged", "problem"]
    assert app.recorder.max_notification_id() == position
    assert app.unit(app.repository.get(skipped.plans[0].member_id).cell_id)["code"] == "TG-1"
    assert register(app)[2]["exemption"]["reason"] == "age"
    app.close()


def test_apply_refuses_to_start_when_a_row_has_a_problem_unless_told_to_skip_it(app):
    rows = [ROWS[0], row(**{"Chi bộ": "KD-1"}), ROWS[1]]
    before = app.recorder.max_notification_id()
    with pytest.raises(ImportRefused) as err:
        apply(app, csv_file(rows))
    assert err.value.status == 422 and err.value.rule == "import.cell_in_ward"
    body = err.value.body("vi")
    assert body["message"].startswith("1 dòng có lỗi (dòng 3); chưa nhập dòng nào")
    assert body["fields"] == [{"field": "cell_code", "column": "Chi bộ", "row": 3, "rule": "import.cell_in_ward",
                               "message": "chi bộ KD-1 không thuộc Tân Giang (TG)"}]
    assert body["report"]["applied"] is False
    assert app.recorder.max_notification_id() == before

    report = apply(app, csv_file(rows), skip_invalid=True)
    assert [p.outcome for p in report.plans] == ["admitted", "problem", "admitted"]
    assert report.totals() == {"rows": 3, "admitted": 2, "problem": 1}
    assert [m["code"] for m in register(app)] == ["01001", "01002"]


def test_an_import_stopped_between_an_admission_and_its_exemption_is_finished_by_running_it_again(app):
    r = ROWS[2]
    [planned] = dry(app, xlsx([r])).plans
    app.admit_member(**planned.admission, cell_id=planned.cell_id, by="ward-staff")  # ... and then it stopped
    assert [p.outcome for p in dry(app, xlsx([r])).plans] == ["exempt"]
    report = apply(app, xlsx([r]))
    assert [p.outcome for p in report.plans] == ["exempted"]
    assert register(app)[0]["exemption"] == {"reason": "age", "note": "Tuổi cao", "since": "2020-01-01"}
    assert [p.outcome for p in apply(app, xlsx([r])).plans] == ["unchanged"]


def test_a_file_over_the_size_limit_is_refused_with_413(app):
    with pytest.raises(DomainError) as err:
        dry(app, csv_file(ROWS), max_bytes=100)
    assert (err.value.status, err.value.field, err.value.rule) == (413, "file", "import.file_size")


class RacingApp(MembersApplication):
    """Another import admits each member just before this one does (the same file posted twice at once)."""

    def admit_member(self, **kwargs):
        super().admit_member(**kwargs | {"by": "the-other-import"})
        return super().admit_member(**kwargs)


def test_a_member_admitted_meanwhile_by_the_same_file_is_unchanged_and_with_other_data_a_problem():
    racing = make_app({"PERSISTENCE_MODULE": "eventsourcing.popo"}, RacingApp)
    report = apply(racing, xlsx(ROWS[:2]))
    assert [p.outcome for p in report.plans] == ["unchanged", "unchanged"]
    assert [m["code"] for m in register(racing)] == ["01001", "01002"]  # each admitted once, by the other import
    exempted = apply(racing, xlsx([[4, "01009", *ROWS[2][2:]]]))
    assert [(p.outcome, [q.rule for q in p.problems]) for p in exempted.plans] == [("problem", ["import.concurrent"])]


def test_an_xlsx_whose_recorded_size_is_wrong_is_still_read_whole():
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(xlsx(ROWS)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                # openpyxl writes `<dimension ref="A1:I4" />` (or without the space when lxml is installed)
                data, n = re.subn(rb'<dimension ref="A1:I4"\s*/>', b'<dimension ref="A1"/>', data)
                assert n == 1
            target.writestr(item, data)
    sheet = read_register(out.getvalue())
    assert [c["full_name"] for _, c in sheet.rows] == [r[2] for r in ROWS]


def test_a_file_without_the_optional_columns_says_nothing_about_them(app):
    apply(app, xlsx(ROWS))
    short = [[*r[:3], *r[4:7]] for r in ROWS]
    header = ["STT", "Mã đảng viên", "Họ và tên", "Chi bộ", "Ngày vào Đảng", "Ngày chính thức"]
    report = dry(app, csv_file(short, header))
    assert [p.outcome for p in report.plans] == ["unchanged", "unchanged", "unchanged"]  # born_on, exemption kept
    official_missing = dry(app, csv_file([r[:5] for r in short], header[:5]))
    assert problems(official_missing) == [(2, "Ngày chính thức", "official_since", "import.exists_different"),
                                          (4, "Ngày chính thức", "official_since", "import.exists_different")]
