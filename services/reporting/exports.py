"""Reports as party documents (văn bản của Đảng), in XLSX and CSV (issue 5): a roll-up or the flagged-member list
as a `Document`, written by `to_xlsx` or `to_csv`. No framework here: the reporting service turns its query
results into a `Document` and answers with the bytes, `XLSX_MIME`/`CSV_MIME` and `filename(doc, ext)`.

The form follows the party's guidance on document form and layout, HD 36-HD/VPTW (2018), Phụ lục 3:

- top left: the direct superior's name (upper case, 14, regular), the issuing unit's name (upper case, 14, bold),
  a "*" under it, and the document's number if it has one ("Số 12-BC/HU", 14);
- top right: "ĐẢNG CỘNG SẢN VIỆT NAM" (upper case, 15, bold, with a rule under it: here an underline), and under
  it the place and date line (14, italic; `vietnamese.place_date`);
- the document's kind and title (upper case, bold, centred, 15) and its summary line (bold, centred, 14);
- then the table, then the notes (body text, 14). Times New Roman throughout.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, NamedStyle, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from services.reporting import vietnamese as vn

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"

FONT = "Times New Roman"
# Sizes (pt) from HD 36-HD/VPTW Phụ lục 3 for the header block, the title and the body text. The table is set one
# size smaller (13) than the body so that a roll-up of 8-10 columns fits an A4 width; the guidance leaves tables'
# type size to the drafter.
SIZE_PARTY = 15    # ĐẢNG CỘNG SẢN VIỆT NAM
SIZE_HEADER = 14   # superior, unit, number, place and date line
SIZE_TITLE = 15    # the kind and title of the document (15-16 in HD 36)
SIZE_SUBTITLE = 14
SIZE_TABLE = 13
SIZE_NOTES = 14

PARTY = {"vi": "ĐẢNG CỘNG SẢN VIỆT NAM", "en": "COMMUNIST PARTY OF VIET NAM"}
STT = {"vi": "STT", "en": "No."}  # số thứ tự

# Number formats are stored locale-free in XLSX: Excel shows "#,##0" as 9.255 and "0.0%" as 85,5% on a machine set
# to Vietnamese, and as 9,255 and 85.5% on one set to English.
INT_FORMAT = "#,##0"
PERCENT_FORMAT = "0.0%"
DATE_FORMAT = {"vi": "dd/mm/yyyy", "en": "yyyy-mm-dd"}

Kind = Literal["text", "int", "percent", "date", "name"]
KINDS = ("text", "int", "percent", "date", "name")
DEFAULT_WIDTH = {"text": 30.0, "name": 28.0, "int": 12.0, "percent": 12.0, "date": 13.0}
STT_WIDTH = 6.0
EXCEL_DEFAULT_WIDTH = 8.43  # of a column given no width
LANDSCAPE_ABOVE = 7  # columns, STT included: wider tables print on A4 landscape


@dataclass(frozen=True)
class Column:
    key: str
    title: str                      # already in the document's language
    kind: Kind = "text"             # "name": a person's full name; "percent": a ratio 0..1 (None: nothing to count)
    width: float | None = None      # XLSX column width hint (characters)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key!r}: unknown kind {self.kind!r} (one of {', '.join(KINDS)})")


@dataclass(frozen=True)
class Document:
    superior: str                   # e.g. "Đảng bộ tỉnh ..." / "Thành ủy Hà Nội" (upper-cased on output)
    unit: str                       # the issuing unit, e.g. "Huyện ủy Mê Linh" (upper-cased on output)
    place: str                      # for the place and date line, e.g. "Mê Linh"
    issued_on: dt.date
    title: str                      # e.g. "BÁO CÁO TÌNH HÌNH SINH HOẠT CHI BỘ" (upper-cased on output)
    subtitle: str = ""              # e.g. "Quý I năm 2026"
    columns: tuple[Column, ...] = ()
    rows: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()     # lines after the table (e.g. the report sentence)
    sort_by_name: str | None = None  # key of a "name" column: rows are sorted by name_sort_key of it
    lang: str = "vi"
    number: str = ""                # số và ký hiệu, e.g. "Số 12-BC/HU"; left out when empty

    def __post_init__(self) -> None:
        keys = [c.key for c in self.columns]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate column keys: {keys}")
        if self.lang not in PARTY:
            raise ValueError(f"unsupported language {self.lang!r} (vi or en)")
        if self.sort_by_name is not None:
            kinds = {c.key: c.kind for c in self.columns}
            if kinds.get(self.sort_by_name) != "name":
                raise ValueError(f"sort_by_name={self.sort_by_name!r} is not the key of a 'name' column")

    def ordered_rows(self) -> list[dict[str, Any]]:
        """The rows in the order they are written: by name (Vietnamese order) when `sort_by_name` is set."""
        if self.sort_by_name is None:
            return list(self.rows)
        key = self.sort_by_name
        return sorted(self.rows, key=lambda row: vn.name_sort_key(str(row.get(key) or "")))

    def header_lines(self) -> tuple[list[tuple[str, bool]], list[str]]:
        """The header block: the left lines with whether each is bold (the issuing unit's name), and the right
        lines (the party's name, the place and date line)."""
        left = [(upper(self.superior), False), (upper(self.unit), True), ("*", False), (self.number, False)]
        return ([line for line in left if line[0]],
                [PARTY[self.lang], vn.place_date(self.place, self.issued_on, self.lang)])


def upper(text: str) -> str:
    """Upper case as Vietnamese writes it (str.upper keeps the marks: "Huyện ủy" -> "HUYỆN ỦY")."""
    return unicodedata.normalize("NFC", text.strip()).upper()


# ---- XLSX -------------------------------------------------------------------------------------------------------

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LINE_PT = 1.3  # a line of text is about 1.3 times its type size high


def _font(size: float, **style: Any) -> Font:
    return Font(name=FONT, size=size, **style)


def _write(ws: Worksheet, row: int, col: int, value: Any) -> Any:
    """Write one cell's value. Text is always stored as text: a value typed by a user that starts with "=" must
    not become a formula in the report. Control characters XLSX cannot hold (a unit name typed with one) are
    left out rather than failing the whole document."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _put(ws: Worksheet, row: int, col: int, value: Any, font: Font, alignment: Alignment | None = None,
         span: int = 1) -> Any:
    """Write one cell with its font (merged over `span` columns)."""
    cell = _write(ws, row, col, value)
    cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    if span > 1:
        ws.merge_cells(start_row=row, start_column=col, end_row=row, end_column=col + span - 1)
    return cell


def _wrapped_height(text: str, width: float, size: float) -> float:
    """A row height (pt) that shows `text` wrapped in `width` characters: Excel does not grow rows by itself."""
    lines = sum(max(1, math.ceil(len(part) / max(width * 0.9, 1.0))) for part in text.split("\n"))
    return round(lines * size * _LINE_PT, 1)


def _table_styles(book: Workbook, lang: str) -> None:
    """The table's cell styles, registered once as named styles: setting fonts, borders and formats cell by cell
    costs openpyxl a style lookup each (10 s for a list of 9,255 members instead of 2 s)."""
    def style(name: str, horizontal: str, number_format: str = "General", wrap: bool = False) -> None:
        book.add_named_style(NamedStyle(
            name=name, font=_font(SIZE_TABLE), border=_BOX, number_format=number_format,
            alignment=Alignment(horizontal=horizontal, vertical="top", wrap_text=wrap)))

    style(_STYLE["stt"], "center")
    style(_STYLE["text"], "left", wrap=True)
    style(_STYLE["int"], "right", INT_FORMAT)
    style(_STYLE["percent"], "right", PERCENT_FORMAT)
    style(_STYLE["date"], "right", DATE_FORMAT[lang])
    style(_STYLE["missing"], "center")


_STYLE = {kind: f"chibo {kind}" for kind in ("stt", "text", "int", "percent", "date", "missing")}


def _table_cell(column: Column, value: Any) -> tuple[Any, str]:
    """The value to store for a table cell and its style: numbers, ratios and dates as real values."""
    if value is None or value == "":
        return ("—" if column.kind == "percent" and value is None else ""), _STYLE["missing"]
    if column.kind in ("int", "percent"):
        return value, _STYLE[column.kind]
    if column.kind == "date":
        return vn.as_date(value), _STYLE["date"]
    return str(value), _STYLE["text"]


def to_xlsx(doc: Document) -> bytes:
    """The document as an XLSX workbook of one sheet in party document form (see the module's docstring)."""
    book = Workbook()
    ws = book.active
    ws.title = "Báo cáo" if doc.lang == "vi" else "Report"
    ncols = 1 + len(doc.columns)
    widths = [STT_WIDTH] + [c.width or DEFAULT_WIDTH[c.kind] for c in doc.columns]
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    # the header block: two halves side by side, each as wide as half the table (at least one column)
    span = max(ncols, 2)
    left_span, right_span = span // 2, span - span // 2
    span_width = sum(widths) + EXCEL_DEFAULT_WIDTH * max(span - ncols, 0)
    left, right = doc.header_lines()
    for i, (line, bold) in enumerate(left):
        _put(ws, 1 + i, 1, line, _font(SIZE_HEADER, bold=bold), _CENTER, left_span)
    _put(ws, 1, 1 + left_span, right[0], _font(SIZE_PARTY, bold=True, underline="single"), _CENTER, right_span)
    _put(ws, 2, 1 + left_span, right[1], _font(SIZE_HEADER, italic=True), _CENTER, right_span)
    row = max(len(left), len(right)) + 2  # one blank row
    _put(ws, row, 1, upper(doc.title), _font(SIZE_TITLE, bold=True), _CENTER, span)
    ws.row_dimensions[row].height = _wrapped_height(doc.title, span_width, SIZE_TITLE)
    row += 1
    if doc.subtitle:
        _put(ws, row, 1, doc.subtitle, _font(SIZE_SUBTITLE, bold=True), _CENTER, span)
        row += 1
    row += 1  # one blank row
    header_row = row
    titles = [STT[doc.lang]] + [c.title for c in doc.columns]
    for i, title in enumerate(titles, start=1):
        _put(ws, row, i, title, _font(SIZE_TABLE, bold=True), _CENTER).border = _BOX
    ws.row_dimensions[row].height = max(_wrapped_height(t, w, SIZE_TABLE) for t, w in zip(titles, widths, strict=True))
    _table_styles(book, doc.lang)
    for number, record in enumerate(doc.ordered_rows(), start=1):
        row += 1
        ws.cell(row=row, column=1, value=number).style = _STYLE["stt"]
        for i, column in enumerate(doc.columns, start=2):
            value, style = _table_cell(column, record.get(column.key))
            _write(ws, row, i, value).style = style
    row += 1
    for note in doc.notes:
        row += 1
        _put(ws, row, 1, note, _font(SIZE_NOTES), Alignment(horizontal="left", vertical="top", wrap_text=True), span)
        ws.row_dimensions[row].height = _wrapped_height(note, span_width, SIZE_NOTES)
    _page_setup(ws, header_row, ncols)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _page_setup(ws: Worksheet, header_row: int, ncols: int) -> None:
    """Freeze the rows down to the table's header; print on A4, fitted to the width, the header on every page;
    margins of HD 36 (top and bottom 20 mm, left 30 mm, right 15 mm)."""
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if ncols > LANDSCAPE_ABOVE else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as it takes
    mm = 1 / 25.4
    ws.page_margins.top = ws.page_margins.bottom = 20 * mm
    ws.page_margins.left, ws.page_margins.right = 30 * mm, 15 * mm


# ---- CSV --------------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: Any) -> str:
    """Text typed by users, made inert for spreadsheets: a leading "=", "+", "-", "@" would start a formula when
    Excel opens the file (CSV injection), so such a value gets a leading apostrophe, as Excel itself writes it."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


_CSV_FORMAT: dict[str, Callable[[Any, str], str]] = {
    "int": lambda v, lang: vn.number(v, 0, lang),
    "percent": lambda v, lang: vn.percent(v, 1, lang),
    "date": lambda v, lang: vn.date(v, lang),
}


def _csv_cell(column: Column, value: Any, lang: str) -> str:
    if value is None or value == "":
        return "—" if column.kind == "percent" and value is None else ""
    formatter = _CSV_FORMAT.get(column.kind)
    return formatter(value, lang) if formatter else _csv_text(value)


def csv_rows(doc: Document) -> Iterable[list[str]]:
    """The CSV's rows: the header lines (one text cell each), a blank row, the table with its "STT" column,
    then a blank row and the notes."""
    left, right = doc.header_lines()
    for line in [*(text for text, _ in left if text != "*"), *right, upper(doc.title), doc.subtitle]:
        if line:
            yield [line]
    yield []
    yield [STT[doc.lang], *(c.title for c in doc.columns)]
    for number, record in enumerate(doc.ordered_rows(), start=1):
        yield [str(number), *(_csv_cell(c, record.get(c.key), doc.lang) for c in doc.columns)]
    if doc.notes:
        yield []
        yield from ([_csv_text(note)] for note in doc.notes)


def to_csv(doc: Document, delimiter: str = ",") -> bytes:
    """The document as CSV: UTF-8 with a byte order mark (so Excel reads the Vietnamese letters), lines ending in
    CRLF, values separated by "," by default and quoted when they hold it ("85,5%" stays one value: the decimal
    comma never breaks a column). Numbers, percentages and dates are written as Vietnamese read them
    (`vietnamese.number/percent/date`), so this file is for people; a program should read the XLSX.

    Excel on Windows set to Vietnamese splits an opened CSV at ";" (its list separator) rather than ",": pass
    `delimiter=";"` for such users (the register import reads either).
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerows(csv_rows(doc))
    return out.getvalue().encode("utf-8-sig")


# ---- file name --------------------------------------------------------------------------------------------------

def ascii_slug(text: str, limit: int = 80) -> str:
    """Lower-case ASCII words joined by "-": "Báo cáo tình hình Đảng" -> "bao-cao-tinh-hinh-dang"."""
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = plain.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")
    return slug[:limit].rstrip("-")


def filename(doc: Document, ext: str) -> str:
    """An ASCII-safe file name for a download: "bao-cao-tinh-hinh-sinh-hoat-chi-bo-2026-11-23.xlsx"."""
    ext = ext.lstrip(".").lower()
    if not re.fullmatch(r"[a-z0-9]+", ext):
        raise ValueError(f"bad file extension {ext!r}")
    return f"{ascii_slug(doc.title) or 'bao-cao'}-{doc.issued_on.isoformat()}.{ext}"
