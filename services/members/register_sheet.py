"""Reading a ward's member register file (XLSX or CSV): its format, its rows keyed by field, and cell values.

Headers are Vietnamese, matched without regard to case, diacritics or spacing ("Họ và tên", "HO TEN", "Mã ĐV"
...). A file without a required column is refused whole, naming the missing columns; an unknown column is only
a warning. `parse_date`, `clean_text` and `exemption_reason` read the cells as wards write them. Framework-free;
the checking and applying of rows is in services.members.register_import.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.errors import DomainError

if TYPE_CHECKING:
    from services.members.register_import import Report

MAX_ROWS = 20_000  # a large ward has ~600 members; a whole district ~10,000
HEADER_SEARCH_ROWS = 20  # title rows ("DANH SÁCH ĐẢNG VIÊN ...") may stand above the header row
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --- columns ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    field: str
    headers: tuple[str, ...]  # as wards write them; matched after `header_key`
    required: bool = False


COLUMNS = (
    Column("row_no", ("STT", "Số TT", "Số thứ tự", "TT")),
    Column("code", ("Mã đảng viên", "Số thẻ đảng viên", "Mã ĐV", "Số thẻ ĐV", "Số thẻ"), required=True),
    Column("full_name", ("Họ và tên", "Họ tên", "Họ và tên đảng viên", "Họ tên đảng viên"), required=True),
    Column("born_on", ("Ngày sinh", "Ngày tháng năm sinh")),
    Column("cell_code", ("Chi bộ", "Mã chi bộ"), required=True),
    Column("admitted_on", ("Ngày vào Đảng", "Ngày kết nạp", "Ngày kết nạp Đảng"), required=True),
    Column("official_since", ("Ngày chính thức", "Ngày công nhận chính thức", "Ngày chuyển chính thức")),
    Column("exemption", ("Miễn sinh hoạt", "Ghi chú miễn", "Miễn công tác và sinh hoạt", "Lý do miễn")),
    Column("exempted_on", ("Ngày miễn", "Ngày miễn sinh hoạt")),
)
FIELD_COLUMN = {c.field: c for c in COLUMNS}

# Exemption reasons as written (after `header_key`) -> the domain's reason (services.members.domain).
EXEMPTION_WORDS = (
    ("tuoi cao", "age"),
    ("suc khoe", "health"),
    ("dieu tri", "long_treatment"),
    ("nuoc ngoai", "work_abroad"),
)
TICKS = {"x", "co", "1", "v", "✓", "✔", "mien"}  # a column of ticks: exempted, reason not given ("other")


def header_key(text: Any) -> str:
    """Text without case, diacritics, bracketed notes or punctuation: "Ngày sinh (dd/mm/yyyy)*" -> "ngay sinh"."""
    s = unicodedata.normalize("NFD", str(text or "")).replace("đ", "d").replace("Đ", "D")
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn").casefold()
    s = re.sub(r"\(.*?\)", " ", s)
    s = re.sub(r"[^\w\s]", " ", s)
    return " ".join(s.split())


_HEADER_FIELDS = {header_key(h): c.field for c in COLUMNS for h in c.headers}


# --- problems and refusals -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What is wrong with one cell (or row, or the file); `row` is the spreadsheet's row number."""

    row: int | None
    column: str | None  # the header as written in the file (or the expected one, when it is missing)
    field: str
    rule: str
    message: str  # English
    vi: str

    def to_json(self, lang: str) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "field": self.field, "rule": self.rule,
                "message": self.vi if lang == "vi" else self.message}


class ImportRefused(DomainError):
    """The file (or the apply) is refused whole; nothing was recorded. Answers 422 naming every field."""

    def __init__(self, problems: list[Problem], message: str, vi: str, report: Report | None = None):
        first = problems[0]
        super().__init__(first.field, message, rule=first.rule, vi=vi)
        self.problems = problems
        self.report = report

    def body(self, lang: str) -> dict[str, Any]:
        body: dict[str, Any] = {"error": "rejected", "message": self.message_in(lang),
                                "fields": [p.to_json(lang) for p in self.problems]}
        if self.report is not None:
            body["report"] = self.report.to_json(lang)
        return body


def _refuse_file(rule: str, message: str, vi: str) -> ImportRefused:
    return ImportRefused([Problem(None, None, "file", rule, message, vi)], message, vi)


# --- reading the file ----------------------------------------------------------------------------------


@dataclass
class Sheet:
    """The rows of a register file, each cell keyed by field, with the spreadsheet's row numbers."""

    format: str  # "xlsx" | "csv"
    header_row: int
    columns: dict[str, str]  # field -> header as written
    rows: list[tuple[int, dict[str, Any]]]
    warnings: list[Problem] = field(default_factory=list)


def detect_format(data: bytes, content_type: str | None = None, filename: str | None = None) -> str:
    """"xlsx" or "csv", from the bytes first (an XLSX is a zip: "PK"), then the declared type or name."""
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _refuse_file("file.format", "old Excel 97-2003 (.xls) files are not read: save it as .xlsx or CSV UTF-8",
                           "không đọc được tệp Excel 97-2003 (.xls): hãy lưu thành .xlsx hoặc CSV UTF-8")
    declared = f"{content_type or ''} {filename or ''}".lower()
    if "spreadsheetml" in declared or declared.rstrip().endswith(".xlsx"):
        raise _refuse_file("file.format", "is not a valid XLSX file", "không phải tệp XLSX hợp lệ")
    return "csv"


def read_register(data: bytes, content_type: str | None = None, filename: str | None = None) -> Sheet:
    """Parse an XLSX or CSV register into rows keyed by field; refuse a file without the required columns."""
    if not data.strip():
        raise _refuse_file("file.empty", "the file is empty", "tệp rỗng")
    fmt = detect_format(data, content_type, filename)
    rows = _xlsx_rows(data) if fmt == "xlsx" else _csv_rows(data)
    return _sheet(fmt, rows)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _refuse_file("file.format", f"is not a valid XLSX file ({exc})", "không phải tệp XLSX hợp lệ") from None
    try:
        sheet = book.worksheets[0]  # the register is the first sheet
        sheet.reset_dimensions()  # some tools write a wrong size (e.g. "A1"); read every row and column
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(values)
    finally:
        book.close()


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse_file(
            "file.encoding", f"is not UTF-8 text (byte {exc.start}): save it as \"CSV UTF-8\"",
            f"không phải văn bản UTF-8 (byte {exc.start}): hãy lưu dưới dạng \"CSV UTF-8\"") from None
    first = text.split("\n", 1)[0]
    # Excel in a Vietnamese locale separates with ";" (the decimal comma takes ","); some tools use tabs.
    delimiter = max((";", ",", "\t"), key=first.count)
    for number, values in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
        yield number, list(values)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _sheet(fmt: str, rows: Iterable[tuple[int, list[Any]]]) -> Sheet:
    rows = iter(rows)
    header_row, headers = 0, []
    first_nonblank: tuple[int, list[Any]] | None = None
    for number, values in rows:
        if all(is_blank(v) for v in values):
            continue
        first_nonblank = first_nonblank or (number, values)
        if sum(1 for v in values if header_key(v) in _HEADER_FIELDS) >= 2:
            header_row, headers = number, values
            break
        if number >= HEADER_SEARCH_ROWS:
            break
    if not headers:
        if first_nonblank is None:
            raise _refuse_file("file.empty", "the file has no rows", "tệp không có dòng nào")
        header_row, headers = first_nonblank
    columns, positions, warnings = _match_headers(header_row, headers)
    data_rows: list[tuple[int, dict[str, Any]]] = []
    for number, values in rows:
        cells = {f: values[i] if i < len(values) else None for f, i in positions.items()}
        if all(is_blank(v) for f, v in cells.items() if f != "row_no"):
            continue  # blank lines, and numbered lines with nothing else, are not members
        if len(data_rows) >= MAX_ROWS:
            raise _refuse_file("file.too_many_rows", f"has more than {MAX_ROWS} rows: split it",
                               f"có hơn {MAX_ROWS} dòng: hãy chia nhỏ tệp")
        data_rows.append((number, cells))
    return Sheet(fmt, header_row, columns, data_rows, warnings)


def _match_headers(row: int, headers: list[Any]) -> tuple[dict[str, str], dict[str, int], list[Problem]]:
    columns: dict[str, str] = {}
    positions: dict[str, int] = {}
    warnings: list[Problem] = []
    refusals: list[Problem] = []
    for i, raw in enumerate(headers):
        if is_blank(raw):
            continue
        written = " ".join(str(raw).split())
        f = _HEADER_FIELDS.get(header_key(raw))
        if f is None:
            warnings.append(Problem(row, written, "header", "header.unknown", "unknown column, ignored",
                                    "cột không xác định, bỏ qua"))
        elif f in columns:
            refusals.append(Problem(row, written, f, "file.duplicate_column",
                                    f"says the same as column \"{columns[f]}\": keep one of them",
                                    f"trùng nghĩa với cột \"{columns[f]}\": chỉ giữ một cột"))
        else:
            columns[f], positions[f] = written, i
    for c in COLUMNS:
        if c.required and c.field not in columns:
            refusals.append(Problem(row, c.headers[0], c.field, "file.missing_column",
                                    f"the required column \"{c.headers[0]}\" is missing (also accepted: "
                                    f"{', '.join(c.headers[1:])})",
                                    f"thiếu cột bắt buộc \"{c.headers[0]}\" (cũng nhận: {', '.join(c.headers[1:])})"))
    if refusals:
        missing = [p.column or "" for p in refusals]
        raise ImportRefused(refusals, f"the file cannot be read as a register: {'; '.join(missing)}",
                            f"không đọc được tệp như sổ đảng viên: {'; '.join(missing)}")
    return columns, positions, warnings


# --- cell values ---------------------------------------------------------------------------------------

_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_date(value: Any) -> dt.date | None:
    """dd/mm/yyyy, d/m/yyyy, yyyy-mm-dd or a real Excel date; None for a blank; ValueError otherwise."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    text = re.sub(r"[ T]00:00(:00)?$", "", text)  # a date exported with midnight attached
    if m := _DMY.match(text):
        day, month, year = (int(g) for g in m.groups())
    elif m := _YMD.match(text):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise ValueError(text)
    return dt.date(year, month, day)  # ValueError for 31/02/2020


def clean_text(value: Any) -> str:
    """NFC-normalised, whitespace collapsed; whole numbers without ".0" (a code typed into a number cell)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def exemption_reason(text: str) -> str | None:
    """The domain's exemption reason for what a ward wrote; None when the cell is blank."""
    key = header_key(text)
    if not key:
        return "other" if text.strip() else None  # a tick mark: exempted, reason not written
    for words, reason in EXEMPTION_WORDS:
        if words in key:
            return reason
    return "other"
