"""Bulk import of a ward's member register from the spreadsheets wards keep today (XLSX or CSV).

Three steps, all framework-free (`import_register` runs them; the nameko route delegates to `import_request`,
and `chibo import-register` posts to that route):

1. `read_register(data, content_type)`: the file's rows, keyed by field. Headers are Vietnamese, matched
   without regard to case, diacritics or spacing ("Họ và tên", "HO TEN", "Mã ĐV" ...). A file without a
   required column is refused whole, naming the missing columns; an unknown column is only a warning.
2. `check_rows(...)`: every row validated WITHOUT recording: required cells, date formats, cell codes under
   the ward, duplicate codes within the file, then the aggregate's own rules (the domain's `admit_member` and
   `Member.exempt` run on an unsaved aggregate, so the rules are not duplicated here). A member already in
   the register is "unchanged" when the file agrees with it, a problem when it does not (never overwritten).
3. The apply (only when the dry run found no problem, or with `skip_invalid`): each valid row is admitted
   through `MembersApplication.admit_member` (and `exempt_member`), one transaction per admission, so an
   interrupted import is resumed by importing the same file again. Importing a file twice changes nothing.

Problems carry the spreadsheet row (the header is row 1 unless title rows stand above it), the column as
written in the file, the field, a rule id, and the message in Vietnamese and English.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.members.application import MembersApplication
from services.members.domain import Member, OrgUnit, UniqueCode, admit_member
from services.members.schemas import AdmitMember
from services.policy import policy_on
from shared import i18n
from shared.errors import DomainError, NotFound

MAX_BYTES = 10 * 1024 * 1024  # a ward's register is well under 1 MB; 10 MB leaves room for formatting
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


class TooLarge(DomainError):
    status = 413


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


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _sheet(fmt: str, rows: Iterable[tuple[int, list[Any]]]) -> Sheet:
    rows = iter(rows)
    header_row, headers = 0, []
    first_nonblank: tuple[int, list[Any]] | None = None
    for number, values in rows:
        if all(_blank(v) for v in values):
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
        if all(_blank(v) for f, v in cells.items() if f != "row_no"):
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
        if _blank(raw):
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
    if _blank(value):
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


# --- checking rows -------------------------------------------------------------------------------------


@dataclass
class RowPlan:
    """One data row: what the import will do with it, and why not when it has problems."""

    row: int
    code: str
    full_name: str
    outcome: str = "admit"  # admit | exempt (finish an interrupted import) | unchanged | problem
    problems: list[Problem] = field(default_factory=list)
    admission: dict[str, Any] = field(default_factory=dict)  # keyword arguments of admit_member, but the cell
    cell_id: uuid.UUID | None = None
    exemption: dict[str, Any] | None = None  # reason, note, effective_from
    member_id: uuid.UUID | None = None


# Where a domain refusal's field is found in the file.
_DOMAIN_FIELD_TO_COLUMN = {
    "code": "code", "full_name": "full_name", "cell_id": "cell_code", "admitted_on": "admitted_on",
    "official_since": "official_since", "status": "official_since", "born_on": "born_on",
    "reason": "exemption", "effective_from": "exempted_on", "member_id": "exemption",
}


class _Lookups:
    """Units and members by code, each read once per import."""

    def __init__(self, app: MembersApplication):
        self.app = app
        self._units: dict[str, OrgUnit | None] = {}

    def unit_by_code(self, code: str) -> OrgUnit | None:
        key = code.casefold()
        if key not in self._units:
            self._units[key] = self._owner(UniqueCode.id_for("unit", code), OrgUnit)
        return self._units[key]

    def member_by_code(self, code: str) -> Member | None:
        return self._owner(UniqueCode.id_for("member", code), Member)

    def _owner(self, claim_id: uuid.UUID, kind: type) -> Any:
        claim = self.app.get_or_none(claim_id)
        owner = self.app.get_or_none(claim.owner_id) if isinstance(claim, UniqueCode) else None
        return owner if isinstance(owner, kind) else None


def resolve_ward(app: MembersApplication, ward: str | None) -> OrgUnit:
    """The unit whose register is imported, by its code or id; any unit above the cells (ward, commune ...)."""
    ref = (ward or "").strip()
    if not ref:
        raise DomainError("ward", "is required: the code or id of the ward whose register this is",
                          rule="import.ward_required", vi="bắt buộc: mã hoặc id của đảng bộ phường/xã")
    unit = None
    try:
        unit = app.get_or_none(uuid.UUID(ref))
    except ValueError:
        unit = _Lookups(app).unit_by_code(ref)
    if not isinstance(unit, OrgUnit):
        raise NotFound("ward", f"no organisation unit {ref!r}", rule="unit.exists", vi=f"không có đơn vị {ref!r}")
    if unit.is_cell:
        raise DomainError("ward", "is a cell: give the ward (or commune) whose cells the file lists",
                          rule="import.ward_kind",
                          vi="là một chi bộ: hãy chọn đảng bộ phường/xã có các chi bộ trong tệp")
    return unit


def check_rows(app: MembersApplication, sheet: Sheet, ward: OrgUnit, *, by: str,
               correlation_id: str | None) -> list[RowPlan]:
    """Validate every row against the file, the register and the domain's rules; record nothing."""
    lookups = _Lookups(app)
    first_row_of: dict[str, int] = {}
    plans = []
    for number, cells in sheet.rows:
        plan = _check_row(app, lookups, sheet, ward, number, cells, by, correlation_id)
        if plan.code:
            key = plan.code.casefold()
            if key in first_row_of:
                plan.problems.append(_problem(sheet, number, "code", "import.duplicate_code",
                                              f"the code {plan.code} is already on row {first_row_of[key]}",
                                              f"mã {plan.code} đã có ở dòng {first_row_of[key]}"))
            else:
                first_row_of[key] = number
        if plan.problems:
            plan.outcome = "problem"
        plans.append(plan)
    return plans


def _problem(sheet: Sheet, row: int, f: str, rule: str, message: str, vi: str) -> Problem:
    column = sheet.columns.get(f) or FIELD_COLUMN[f].headers[0]
    return Problem(row, column, f, rule, message, vi)


def _check_row(app: MembersApplication, lookups: _Lookups, sheet: Sheet, ward: OrgUnit, number: int,
               cells: dict[str, Any], by: str, correlation_id: str | None) -> RowPlan:
    code, name = clean_text(cells.get("code")), clean_text(cells.get("full_name"))
    plan = RowPlan(number, code, name)

    def add(f: str, rule: str, message: str, vi: str) -> None:
        plan.problems.append(_problem(sheet, number, f, rule, message, vi))

    for f in ("code", "full_name", "cell_code", "admitted_on"):
        if _blank(cells.get(f)):
            add(f, "import.required", "is required", "bắt buộc phải có")
    dates: dict[str, dt.date | None] = {}
    for f in ("born_on", "admitted_on", "official_since", "exempted_on"):
        try:
            dates[f] = parse_date(cells.get(f))
        except ValueError:
            dates[f] = None
            raw = clean_text(cells.get(f))
            add(f, "import.date_format", f"{raw!r} is not a date (dd/mm/yyyy)",
                f"{raw!r} không phải ngày hợp lệ (dd/mm/yyyy)")
    cell = _check_cell(lookups, ward, clean_text(cells.get("cell_code")), add)
    note = clean_text(cells.get("exemption"))
    reason = exemption_reason(note)
    if note.casefold() in TICKS or header_key(note) in TICKS:
        note = ""  # a tick is not a note
    if reason is not None and dates["exempted_on"] is None and _blank(cells.get("exempted_on")):
        add("exempted_on", "import.exemption_date", "is required for an exempted member",
            "bắt buộc khi đảng viên được miễn sinh hoạt")
    if reason is None and dates["exempted_on"] is not None:
        add("exemption", "import.exemption_reason", "an exemption date without a reason: write the reason",
            "có ngày miễn nhưng không ghi lý do miễn")
    official_since = dates["official_since"]
    plan.admission = {
        "code": code, "full_name": name, "admitted_on": dates["admitted_on"], "born_on": dates["born_on"],
        "status": "official" if official_since else "probationary", "official_since": official_since,
    }
    if reason is not None and dates["exempted_on"] is not None:
        plan.exemption = {"reason": reason, "note": note, "effective_from": dates["exempted_on"]}
    _check_schema(plan, add)
    if plan.problems or cell is None:
        return plan
    plan.cell_id = cell.id
    existing = lookups.member_by_code(code)
    if existing is not None:
        _compare(plan, existing, sheet)
        if plan.outcome != "exempt":
            return plan
    try:
        member = existing or admit_member(
            **plan.admission, cell=cell, today=app.today(), by=by, correlation_id=correlation_id,
            probation_months=policy_on(plan.admission["admitted_on"]).probation_months)
        if plan.exemption is not None:
            member.exempt(**plan.exemption, today=app.today(), org_path=member.org_path, by=by,
                          correlation_id=correlation_id)
    except DomainError as err:
        plan.problems.append(_domain_problem(sheet, number, err))
    return plan


def _domain_problem(sheet: Sheet, row: int, err: DomainError) -> Problem:
    """A refusal of the domain's rules, placed in the file's column for the field it names."""
    f = _DOMAIN_FIELD_TO_COLUMN.get(err.field, "code")
    return _problem(sheet, row, f, err.rule or f"member.{err.field}", err.message, err.vi or err.message)


def _check_cell(lookups: _Lookups, ward: OrgUnit, cell_code: str,
                add: Callable[[str, str, str, str], None]) -> OrgUnit | None:
    if not cell_code:
        return None
    cell = lookups.unit_by_code(cell_code)
    if cell is None:
        add("cell_code", "import.cell_exists", f"no cell with the code {cell_code}",
            f"không có chi bộ mã {cell_code}")
    elif not cell.is_cell:
        add("cell_code", "import.cell_kind", f"{cell_code} is a {cell.kind}, not a cell",
            f"{cell_code} là {i18n.term(cell.kind)}, không phải chi bộ")
    elif str(ward.id) not in cell.org_path:
        add("cell_code", "import.cell_in_ward", f"the cell {cell_code} is not under {ward.name} ({ward.code})",
            f"chi bộ {cell_code} không thuộc {ward.name} ({ward.code})")
    else:
        return cell
    return None


def _check_schema(plan: RowPlan, add: Callable[[str, str, str, str], None]) -> None:
    """The API's own input rules for a member (code characters, lengths), so a file admits what a form would."""
    if not plan.code or not plan.full_name:
        return
    try:
        AdmitMember.model_validate({"recorded_by": "import", "code": plan.code, "full_name": plan.full_name,
                                    "cell_id": uuid.UUID(int=0), "admitted_on": dt.date(2000, 1, 1)})
    except ValidationError as exc:
        for e in exc.errors():
            f = str(e["loc"][0])
            if f in ("code", "full_name"):
                add(f, e["type"], i18n.validation_message(e, "en"), i18n.validation_message(e, "vi"))


def _exemption_of(member: Member) -> dict[str, Any] | None:
    exemption = getattr(member, "exemption", None)
    return {"reason": exemption["reason"], "effective_from": exemption["since"]} if exemption else None


def _compare(plan: RowPlan, member: Member, sheet: Sheet) -> None:
    """A member already in the register: unchanged when the file agrees, a problem when it does not."""
    plan.member_id = member.id
    a = plan.admission
    stated = {
        "full_name": (a["full_name"], member.full_name),
        "cell_code": (plan.cell_id, member.cell_id),
        "admitted_on": (a["admitted_on"], member.admitted_on),
        "official_since": ((a["status"], a["official_since"]), (member.status, member.official_since)),
    }
    if a["born_on"] is not None:  # a blank birth date says nothing
        stated["born_on"] = (a["born_on"], getattr(member, "born_on", None))
    wanted = {"reason": plan.exemption["reason"], "effective_from": plan.exemption["effective_from"]} \
        if plan.exemption else None
    has = _exemption_of(member)
    if wanted is not None and has is None and member.version == 1:
        # Admitted by an earlier run that stopped before the exemption: finish it (nothing else happened since).
        plan.outcome = "exempt"
    elif "exemption" in sheet.columns:  # a file without the exemption columns says nothing about them
        stated["exemption"] = (wanted, has)
    differing = [f for f, (file_value, register_value) in stated.items() if file_value != register_value]
    if not differing:
        if plan.outcome != "exempt":
            plan.outcome = "unchanged"
        return
    columns = ", ".join(sheet.columns.get(f) or FIELD_COLUMN[f].headers[0] for f in differing)
    plan.problems.append(_problem(
        sheet, plan.row, differing[0], "import.exists_different",
        f"member {plan.code} is already in the register with different data ({columns}); not changed: "
        "correct it through the member's record",
        f"đảng viên {plan.code} đã có trong sổ với thông tin khác ({columns}); không thay đổi: hãy sửa qua hồ sơ "
        "đảng viên"))


# --- the import ----------------------------------------------------------------------------------------


@dataclass
class Report:
    ward: OrgUnit
    sheet: Sheet
    plans: list[RowPlan]
    dry_run: bool
    applied: bool = False

    def totals(self) -> dict[str, int]:
        totals = {"rows": len(self.plans)}
        for plan in self.plans:
            totals[plan.outcome] = totals.get(plan.outcome, 0) + 1
        return totals

    @property
    def problems(self) -> list[Problem]:
        return [p for plan in self.plans for p in plan.problems]

    def to_json(self, lang: str) -> dict[str, Any]:
        return {
            "ward": {"id": str(self.ward.id), "code": self.ward.code, "name": self.ward.name},
            "format": self.sheet.format,
            "header_row": self.sheet.header_row,
            "columns": self.sheet.columns,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "warnings": [w.to_json(lang) for w in self.sheet.warnings],
            "rows": [
                {"row": p.row, "code": p.code, "full_name": p.full_name, "outcome": p.outcome,
                 "member_id": str(p.member_id) if p.member_id else None,
                 "problems": [q.to_json(lang) for q in p.problems]}
                for p in self.plans
            ],
            "totals": self.totals(),
        }


# Outcomes of a dry run -> of the apply.
APPLIED_OUTCOME = {"admit": "admitted", "exempt": "exempted", "unchanged": "unchanged", "problem": "problem"}


def import_register(app: MembersApplication, data: bytes, *, ward: str | None, dry_run: bool, skip_invalid: bool,
                    by: str, correlation_id: str | None, content_type: str | None = None,
                    filename: str | None = None, max_bytes: int = MAX_BYTES) -> Report:
    """Check a register file and, unless `dry_run`, apply its valid rows; the report says what each row did.

    The apply refuses to start (ImportRefused, nothing recorded) when a row has a problem, unless
    `skip_invalid`: then only the valid rows are applied and the others reported.
    """
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    unit = resolve_ward(app, ward)
    sheet = read_register(data, content_type, filename)
    report = Report(unit, sheet, check_rows(app, sheet, unit, by=by, correlation_id=correlation_id), dry_run)
    if dry_run:
        return report
    bad = [p for p in report.plans if p.problems]
    if bad and not skip_invalid:
        rows = ", ".join(str(p.row) for p in bad[:20]) + (" ..." if len(bad) > 20 else "")
        raise ImportRefused(
            report.problems, f"{len(bad)} row(s) have problems (rows {rows}); nothing was imported: correct them, "
            "or import only the valid rows with skip_invalid=true",
            f"{len(bad)} dòng có lỗi (dòng {rows}); chưa nhập dòng nào: hãy sửa, hoặc chỉ nhập các dòng hợp lệ với "
            "skip_invalid=true", report=report)
    for plan in report.plans:
        _apply(app, sheet, plan, by, correlation_id)
    report.applied = True
    return report


def _apply(app: MembersApplication, sheet: Sheet, plan: RowPlan, by: str, correlation_id: str | None) -> None:
    """Record one row: its admission is one transaction (a refusal here records nothing of the row)."""
    if plan.outcome not in ("admit", "exempt"):
        plan.outcome = APPLIED_OUTCOME[plan.outcome]
        return
    try:
        if plan.outcome == "admit":
            member = app.admit_member(**plan.admission, cell_id=plan.cell_id, by=by, correlation_id=correlation_id)
            plan.member_id = member.id
        if plan.exemption is not None:
            app.exempt_member(member_id=plan.member_id, **plan.exemption, by=by, correlation_id=correlation_id)
    except DomainError as err:  # the register changed since the check
        existing = _Lookups(app).member_by_code(plan.code) if err.rule == "member.code_unique" else None
        if existing is None:
            plan.problems.append(_domain_problem(sheet, plan.row, err))
        else:  # admitted meanwhile (the same file imported twice at once): compare as a re-run would
            plan.outcome = "admit"
            _compare(plan, existing, sheet)
            if plan.outcome == "exempt":  # the other import has not exempted them yet
                plan.problems.append(_problem(
                    sheet, plan.row, "code", "import.concurrent",
                    "was admitted by another import running at the same time; import the file again to finish",
                    "vừa được một lần nhập khác cùng lúc ghi vào sổ; hãy nhập lại tệp để hoàn tất"))
        if plan.problems:
            plan.outcome = "problem"
            return
    plan.outcome = APPLIED_OUTCOME[plan.outcome]


def too_large(max_bytes: int = MAX_BYTES) -> TooLarge:
    size = f"{max_bytes / (1024 * 1024):g} MB"
    return TooLarge("file", f"is larger than {size}", rule="import.file_size", vi=f"lớn hơn {size}")



# --- HTTP adapter (a werkzeug request; the nameko route only delegates here) ---------------------------


def import_request(app: MembersApplication, request: Any, correlation_id: str,
                   max_bytes: int = MAX_BYTES) -> tuple[int, dict[str, Any]]:
    """POST /members/imports?ward=&dry_run=true|false&skip_invalid=false&recorded_by= with the file as the raw
    body or as the multipart field `file`: (200, report), (422, refusal with the report), or a DomainError."""
    # The route's worker greenthread does not share the HTTP thread's context: negotiate again here.
    lang = i18n.negotiate(request.args.get("lang"), request.headers.get("Accept-Language"))
    if (request.content_length or 0) > max_bytes:
        raise too_large(max_bytes)
    by = (request.args.get("recorded_by") or request.headers.get("X-Recorded-By") or "").strip()
    if not 1 <= len(by) <= 200:
        raise DomainError("recorded_by", "is required (query parameter or X-Recorded-By header), 1 to 200 characters",
                          rule="missing", vi="bắt buộc phải có (tham số recorded_by hoặc tiêu đề X-Recorded-By)")
    dry_run = _flag(request, "dry_run", True)
    skip_invalid = _flag(request, "skip_invalid", False)
    filename = None
    content_type = request.mimetype
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise DomainError("file", "is required: send the register as the form field \"file\"",
                              rule="missing", vi="bắt buộc: gửi tệp sổ đảng viên trong trường \"file\"")
        data, filename, content_type = upload.read(max_bytes + 1), upload.filename, upload.mimetype
    else:
        data = request.stream.read(max_bytes + 1)
    try:
        report = import_register(app, data, ward=request.args.get("ward"), dry_run=dry_run,
                                 skip_invalid=skip_invalid, by=by, correlation_id=correlation_id,
                                 content_type=content_type, filename=filename, max_bytes=max_bytes)
    except ImportRefused as refused:
        return 422, refused.body(lang)
    return 200, report.to_json(lang)


def _flag(request: Any, name: str, default: bool) -> bool:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise DomainError(name, f"must be true or false, not {raw!r}", rule="bool_parsing",
                      vi=f"phải là true hoặc false, không phải {raw!r}")
