"""Bulk import of a ward's member register from the spreadsheets wards keep today (XLSX or CSV).

Three steps, all framework-free (`import_register` runs them; the nameko route delegates to `import_request`
in services.members.register_upload, and `chibo import-register` posts to that route):

1. `read_register(data, content_type)` (services.members.register_sheet): the file's rows, keyed by field.
   Headers are Vietnamese, matched without regard to case, diacritics or spacing ("Họ và tên", "HO TEN",
   "Mã ĐV" ...). A file without a required column is refused whole, naming the missing columns; an unknown
   column is only a warning.
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

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.members.application import MembersApplication
from services.members.domain import Member, OrgUnit, UniqueCode, admit_member
from services.members.register_sheet import (
    FIELD_COLUMN,
    TICKS,
    ImportRefused,
    Problem,
    Sheet,
    clean_text,
    exemption_reason,
    header_key,
    is_blank,
    parse_date,
    read_register,
)
from services.members.schemas import AdmitMember
from services.policy import policy_on
from shared import i18n
from shared.errors import DomainError, NotFound

MAX_BYTES = 10 * 1024 * 1024  # a ward's register is well under 1 MB; 10 MB leaves room for formatting


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
        if is_blank(cells.get(f)):
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
    if reason is not None and dates["exempted_on"] is None and is_blank(cells.get("exempted_on")):
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
        AdmitMember.model_validate({"code": plan.code, "full_name": plan.full_name,
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


class TooLarge(DomainError):
    status = 413


def too_large(max_bytes: int = MAX_BYTES) -> TooLarge:
    size = f"{max_bytes / (1024 * 1024):g} MB"
    return TooLarge("file", f"is larger than {size}", rule="import.file_size", vi=f"lớn hơn {size}")
