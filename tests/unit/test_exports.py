"""Reports as party documents (services/reporting/exports.py): the XLSX opened back with openpyxl, the CSV parsed
back with the csv module, each checked against hand-written expectations."""

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from services.reporting.exports import (
    CSV_MIME,
    XLSX_MIME,
    Column,
    Document,
    ascii_slug,
    filename,
    to_csv,
    to_xlsx,
)

ISSUED = dt.date(2026, 3, 5)

FLAGGED = (  # the flagged-member list (given names chosen so that code point order differs from Vietnamese order)
    {"name": "Nguyễn Văn Đức", "cell": "Chi bộ Khu phố 2", "unexcused": 3, "rate": 0.6, "since": "2001-02-03"},
    {"name": "Trần Thị Ánh", "cell": "Chi bộ Khu phố 1", "unexcused": 4, "rate": None, "since": dt.date(1999, 12, 1)},
    {"name": "Lê Văn An", "cell": "Chi bộ Khu phố 1", "unexcused": 1234, "rate": 0.855, "since": dt.date(2010, 5, 9)},
    {"name": "Phạm Thị Ân", "cell": "=HYPERLINK(\"http://x\")", "unexcused": 5, "rate": 1.0, "since": "2015-10-20"},
    {"name": "Đỗ Văn Dũng", "cell": "Chi bộ Khu phố 3", "unexcused": 3, "rate": 0.25, "since": "2020-01-15"},
)
NAMES_IN_ORDER = ["Lê Văn An", "Trần Thị Ánh", "Phạm Thị Ân", "Đỗ Văn Dũng", "Nguyễn Văn Đức"]
COLUMNS = (
    Column("name", "Họ và tên", "name"),
    Column("cell", "Chi bộ"),
    Column("unexcused", "Số lần vắng không lý do", "int"),
    Column("rate", "Tỷ lệ dự sinh hoạt", "percent"),
    Column("since", "Ngày vào Đảng", "date"),
)


def flagged_doc(**changes) -> Document:
    fields = dict(superior="Thành ủy Hà Nội", unit="Huyện ủy Mê Linh", place="Mê Linh", issued_on=ISSUED,
                  title="Danh sách đảng viên vi phạm sinh hoạt", subtitle="Năm 2026", number="Số 12-BC/HU",
                  columns=COLUMNS, rows=FLAGGED, notes=("Tổng số: 5 đảng viên.", "Nơi nhận: Ban Tổ chức Thành ủy."),
                  sort_by_name="name")
    return Document(**(fields | changes))


def sheet(doc: Document):
    return load_workbook(io.BytesIO(to_xlsx(doc))).active


def cells_with_text(ws):
    return {c.value: c for row in ws.iter_rows() for c in row if c.value is not None}


def test_sorted_names_differ_from_code_point_order():
    assert sorted(NAMES_IN_ORDER, key=lambda n: n.split()[-1]) != NAMES_IN_ORDER  # so the order tests can fail


def test_xlsx_header_block_follows_the_party_document_form():
    ws = sheet(flagged_doc())
    # columns: STT + 5 = 6; the left half holds A-C, the right half D-F
    assert ws["A1"].value == "THÀNH ỦY HÀ NỘI" and not ws["A1"].font.b
    assert ws["A2"].value == "HUYỆN ỦY MÊ LINH" and ws["A2"].font.b
    assert ws["A3"].value == "*"
    assert ws["A4"].value == "Số 12-BC/HU"
    assert ws["D1"].value == "ĐẢNG CỘNG SẢN VIỆT NAM" and ws["D1"].font.b and ws["D1"].font.u == "single"
    assert ws["D1"].font.sz == 15
    assert ws["D2"].value == "Mê Linh, ngày 05 tháng 3 năm 2026" and ws["D2"].font.i
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:C1", "A2:C2", "D1:F1", "D2:F2"} <= merged
    assert ws["A6"].value == "DANH SÁCH ĐẢNG VIÊN VI PHẠM SINH HOẠT" and ws["A6"].font.b
    assert ws["A6"].alignment.horizontal == "center" and "A6:F6" in merged
    assert ws["A7"].value == "Năm 2026"


def test_xlsx_is_times_new_roman_everywhere():
    ws = sheet(flagged_doc())
    fonts = {c.font.name for c in cells_with_text(ws).values()}
    assert fonts == {"Times New Roman"}
    assert ws["A9"].font.sz == 13 and ws["A6"].font.sz == 15


def test_xlsx_table_header_stt_numbering_and_name_order():
    ws = sheet(flagged_doc())
    header = [c.value for c in ws[9]]
    assert header == ["STT", "Họ và tên", "Chi bộ", "Số lần vắng không lý do", "Tỷ lệ dự sinh hoạt", "Ngày vào Đảng"]
    assert all(c.font.b and c.border.top.style == "thin" and c.alignment.wrap_text for c in ws[9])
    body = list(ws.iter_rows(min_row=10, max_row=14, values_only=True))
    assert [r[0] for r in body] == [1, 2, 3, 4, 5]
    assert [r[1] for r in body] == NAMES_IN_ORDER
    assert ws["A15"].value is None  # the table ends there
    assert ws.freeze_panes == "A10"


def test_xlsx_numbers_percents_and_dates_are_real_values_with_formats():
    ws = sheet(flagged_doc())
    an = 10  # Lê Văn An's row
    assert ws.cell(an, 4).value == 1234 and isinstance(ws.cell(an, 4).value, int)
    assert ws.cell(an, 4).number_format == "#,##0"
    assert ws.cell(an, 5).value == pytest.approx(0.855) and ws.cell(an, 5).number_format == "0.0%"
    assert ws.cell(an, 6).value == dt.datetime(2010, 5, 9) and ws.cell(an, 6).number_format == "dd/mm/yyyy"
    assert ws.cell(an + 1, 5).value == "—"  # Trần Thị Ánh: no rate
    assert ws.cell(an + 4, 6).value == dt.datetime(2001, 2, 3)  # given as ISO text
    assert ws.cell(an + 2, 3).data_type == "s" and ws.cell(an + 2, 3).value == "=HYPERLINK(\"http://x\")"  # no formula
    assert all(c.border.left.style == "thin" and c.border.bottom.style == "thin" for c in ws[an])
    assert ws.cell(an, 4).alignment.horizontal == "right" and ws.cell(an, 2).alignment.horizontal == "left"


def test_xlsx_notes_and_print_setup():
    ws = sheet(flagged_doc())
    assert ws["A16"].value == "Tổng số: 5 đảng viên." and ws["A17"].value == "Nơi nhận: Ban Tổ chức Thành ủy."
    assert ws["A16"].font.sz == 14
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"  # 9: A4 in OOXML
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1
    assert ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows == "$9:$9"


def test_xlsx_wide_tables_print_landscape():
    columns = tuple(Column(f"m{i}", f"Tháng {i}", "percent") for i in range(1, 8))  # 8 with STT
    ws = sheet(flagged_doc(columns=columns, rows=({"m1": 0.5},), sort_by_name=None))
    assert ws.page_setup.orientation == "landscape"
    assert ws.cell(10, 2).value == 0.5 and ws.cell(10, 3).value == "—"


def test_empty_table_keeps_its_header():
    doc = flagged_doc(rows=(), notes=())
    ws = sheet(doc)
    assert [c.value for c in ws[9]][:2] == ["STT", "Họ và tên"]
    assert ws.max_row == 9
    rows = list(csv.reader(io.StringIO(to_csv(doc).decode("utf-8-sig"))))
    assert rows[-1] == ["STT", "Họ và tên", "Chi bộ", "Số lần vắng không lý do", "Tỷ lệ dự sinh hoạt",
                        "Ngày vào Đảng"]


def test_document_without_superior_or_number():
    ws = sheet(flagged_doc(superior="", number="", columns=(), rows=({},), sort_by_name=None))
    assert ws["A1"].value == "HUYỆN ỦY MÊ LINH" and ws["A1"].font.b and ws["A2"].value == "*"
    assert ws["B1"].value == "ĐẢNG CỘNG SẢN VIỆT NAM"  # only STT: the header block still has two halves
    assert ws["A4"].value == "DANH SÁCH ĐẢNG VIÊN VI PHẠM SINH HOẠT"  # one blank row under the header block
    assert [c.value for c in ws[7]][:1] == ["STT"] and ws["A8"].value == 1


def read_csv(doc: Document) -> tuple[bytes, list[list[str]]]:
    data = to_csv(doc)
    return data, list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_has_bom_header_lines_and_vietnamese_formats():
    data, rows = read_csv(flagged_doc())
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    assert rows[:8] == [["THÀNH ỦY HÀ NỘI"], ["HUYỆN ỦY MÊ LINH"], ["Số 12-BC/HU"], ["ĐẢNG CỘNG SẢN VIỆT NAM"],
                        ["Mê Linh, ngày 05 tháng 3 năm 2026"], ["DANH SÁCH ĐẢNG VIÊN VI PHẠM SINH HOẠT"], ["Năm 2026"],
                        []]
    assert rows[8] == ["STT", "Họ và tên", "Chi bộ", "Số lần vắng không lý do", "Tỷ lệ dự sinh hoạt", "Ngày vào Đảng"]
    table = rows[9:14]
    assert [r[1] for r in table] == NAMES_IN_ORDER
    assert table[0] == ["1", "Lê Văn An", "Chi bộ Khu phố 1", "1.234", "85,5%", "09/05/2010"]
    assert table[1] == ["2", "Trần Thị Ánh", "Chi bộ Khu phố 1", "4", "—", "01/12/1999"]
    assert table[2] == ["3", "Phạm Thị Ân", "'=HYPERLINK(\"http://x\")", "5", "100%", "20/10/2015"]
    assert table[4][4:] == ["60%", "03/02/2001"]
    assert rows[14:] == [[], ["Tổng số: 5 đảng viên."], ["Nơi nhận: Ban Tổ chức Thành ủy."]]
    assert b'"85,5%"' in data  # the decimal comma is quoted, not a separator


def test_csv_in_english_and_with_semicolons():
    doc = flagged_doc(lang="en", title="List of flagged members", columns=COLUMNS[:1] + COLUMNS[3:4])
    _, rows = read_csv(doc)
    assert rows[3:5] == [["COMMUNIST PARTY OF VIET NAM"], ["Mê Linh, 5 March 2026"]]
    assert rows[8] == ["No.", "Họ và tên", "Tỷ lệ dự sinh hoạt"] and rows[9] == ["1", "Lê Văn An", "85.5%"]
    semi = to_csv(flagged_doc(), delimiter=";").decode("utf-8-sig").splitlines()
    assert semi[9] == "1;Lê Văn An;Chi bộ Khu phố 1;1.234;85,5%;09/05/2010"


def test_rows_keep_their_order_without_sort_by_name():
    _, rows = read_csv(flagged_doc(sort_by_name=None))
    assert [r[1] for r in rows[9:14]] == [r["name"] for r in FLAGGED]


def test_document_checks_its_columns():
    with pytest.raises(ValueError, match="not the key of a 'name' column"):
        flagged_doc(sort_by_name="cell")
    with pytest.raises(ValueError, match="duplicate"):
        flagged_doc(columns=(Column("a", "A"), Column("a", "B")), sort_by_name=None)
    with pytest.raises(ValueError, match="unknown kind"):
        Column("a", "A", "money")  # type: ignore[arg-type]


def test_file_names_are_ascii():
    doc = flagged_doc(title="Báo cáo tình hình sinh hoạt chi bộ / Đảng bộ", issued_on=dt.date(2026, 11, 23))
    assert filename(doc, "xlsx") == "bao-cao-tinh-hinh-sinh-hoat-chi-bo-dang-bo-2026-11-23.xlsx"
    assert filename(doc, ".CSV") == "bao-cao-tinh-hinh-sinh-hoat-chi-bo-dang-bo-2026-11-23.csv"
    assert filename(flagged_doc(title="Отчёт"), "csv") == "bao-cao-2026-03-05.csv"
    assert ascii_slug("Ưu tiên ĐỖ Thị Ơn") == "uu-tien-do-thi-on"
    with pytest.raises(ValueError):
        filename(doc, "x/../y")
    assert XLSX_MIME.endswith("spreadsheetml.sheet") and CSV_MIME.startswith("text/csv")


def test_control_characters_xlsx_cannot_hold_are_left_out_not_fatal():
    rows = ({**FLAGGED[0], "cell": "Chi bộ\x0b Khu phố\x01 2"},)
    ws = sheet(flagged_doc(rows=rows, unit="Huyện ủy\x1f Mê Linh"))
    texts = set(cells_with_text(ws))
    assert "Chi bộ Khu phố 2" in texts and "HUYỆN ỦY MÊ LINH" in texts  # the unit is upper-cased on output


def test_an_export_place_with_control_characters_is_refused_naming_it():
    from services.reporting.queries import Queries
    from shared.errors import DomainError

    queries = Queries.__new__(Queries)  # the check comes before any read of the store
    with pytest.raises(DomainError) as refused:
        Queries.export(queries, "rollup", "xlsx", "vi", {"place": "Mê\x01Linh"})
    assert (refused.value.field, refused.value.rule) == ("place", "place.text")
