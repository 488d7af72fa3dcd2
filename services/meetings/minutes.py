"""The minutes of a meeting (sổ biên bản, design.md §2) in Vietnamese: as HTML (an autoescaped Jinja2 template)
and as DOCX (python-docx). Both render the same sections, built once by `minutes_sections` from the meeting's
read view, so the two formats never disagree. Corrections appear as signed later entries, after the record.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.i18n import term, vn_date

_TEMPLATES = Path(__file__).with_name("templates")
_ENV = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True)

TITLES = {"regular": "BIÊN BẢN SINH HOẠT CHI BỘ THƯỜNG KỲ", "thematic": "BIÊN BẢN SINH HOẠT CHI BỘ CHUYÊN ĐỀ",
          "combined": "BIÊN BẢN SINH HOẠT CHI BỘ THƯỜNG KỲ KẾT HỢP CHUYÊN ĐỀ"}


@dataclass
class Section:
    heading: str
    lines: list[str] = field(default_factory=list)


@dataclass
class Minutes:
    title: str
    cell_name: str
    facts: list[tuple[str, str]]  # label, value
    sections: list[Section]


def _clock(iso: str | None) -> str:
    if not iso:
        return ""
    t = dt.datetime.fromisoformat(iso)
    return f"{t.hour:02d} giờ {t.minute:02d}"


def minutes_sections(view: dict[str, Any], cell_name: str) -> Minutes:
    """The minutes' fields from a meeting's read view (services.meetings.application.meeting_view)."""
    names = {e["member_id"]: e["full_name"] for e in [*view["roster"], *view["temporary_participants"]]}
    names |= {g["guest_id"]: g["full_name"] for g in view["guests"]}

    def name(member_id: str | None) -> str:
        return names.get(member_id or "", member_id or "")

    day = dt.date.fromisoformat(view["date"])
    counts = view["counts"] or {}
    present = [mid for mid, a in view["attendance"].items() if a.get("present")]
    excused = [(mid, a) for mid, a in view["attendance"].items() if not a.get("present") and a.get("excused")]
    unexcused = [(mid, a) for mid, a in view["attendance"].items() if not a.get("present") and not a.get("excused")]
    facts = [
        ("Chi bộ", cell_name),
        ("Loại sinh hoạt", term(view["kind"])),
        *([("Chủ đề", view["topic"])] if view["topic"] else []),
        ("Thời gian", f"bắt đầu lúc {_clock(view['started_at'])} ngày {vn_date(day)}, kết thúc lúc "
                      f"{_clock(view['ended_at'])} ({view['minutes']} phút)"),
        ("Địa điểm", view["place"] or "—"),
        ("Chủ trì", name(view["chair_id"]) or "—"),
        ("Thư ký", name(view["minute_taker_id"]) or "—"),
        ("Có mặt/Tổng số", f"{counts.get('present', 0)}/{counts.get('summoned', 0)} đảng viên "
                           f"(số phải dự: {counts.get('attendance_base', 0)}; đảng viên chính thức: "
                           f"{counts.get('voting_base', 0)})"),
        ("Vắng có lý do", "; ".join(f"{name(mid)} ({a.get('reason')})" for mid, a in excused) or "không"),
        ("Vắng không lý do", "; ".join(name(mid) for mid, _ in unexcused) or "không"),
    ]
    sections = [
        Section("Đảng viên có mặt", [name(mid) for mid in present]),
        Section("Khách mời", [f"{g['full_name']}" + (" (cấp ủy viên phụ trách chi bộ)" if g["is_assigned_supervisor"]
                                                    else "") for g in view["guests"]]),
        Section("Trình tự sinh hoạt", [term(a["step"]) + (f": {a['note']}" if a["note"] else "")
                                       for a in view["agenda"]]),
        Section("Ý kiến phát biểu", [f"{name(s['member_id'])}: {s['gist']}" for s in view["speakers"]]),
        Section("Kết luận và biểu quyết", [
            f"Nghị quyết ({term(r['kind'])}): {r['text']} — biểu quyết: {r['votes_for']} tán thành, "
            f"{r['votes_against']} không tán thành, {r['abstentions']} không biểu quyết, trên {r['voting_base']} "
            f"đảng viên chính thức (ngưỡng {r['threshold']}) — "
            + ("thông qua" if r["adopted"] else "không thông qua")
            + (" (chi bộ không đủ điều kiện để quyết định: không quá nửa số đảng viên chính thức có mặt)"
               if r["reason"] == "not_able_to_decide" else "")
            for r in view["resolutions"]]),
        Section("Kiểm điểm việc thực hiện nghị quyết", [
            f"Nghị quyết {_reviewed(r)}: {term(r['outcome'])}" + (f" — {r['note']}" if r["note"] else "")
            for r in view["reviews"]]),
        Section("Thu đảng phí", [f"{name(mid)}: tháng {d['month']} — {'đã nộp' if d['paid'] else 'chưa nộp'}"
                                 for mid, d in view["dues"].items()]),
    ]
    if view["closed_at"]:
        approved = dt.datetime.fromisoformat(view["closed_at"])
        sections.append(Section("Thông qua biên bản", [
            f"Biên bản đã được đọc và thông qua tại buổi sinh hoạt lúc {approved:%H:%M} ngày {vn_date(approved)}."]))
    if view["corrections"]:
        sections.append(Section("Đính chính (ghi sau, có ký tên)", [
            f"{_correction_label(c['path'], name)}: {_correction_value(c['path'], c['old_value'], name)} → "
            f"{_correction_value(c['path'], c['new_value'], name)}. Lý do: {c['reason']}. Người đính chính: "
            f"{c['recorded_by']}" for c in view["corrections"]]))
    return Minutes(TITLES.get(view["kind"], TITLES["regular"]), cell_name, facts, sections)


def _reviewed(review: dict[str, Any]) -> str:
    """The reviewed resolution by its words and date ("«text» (ngày ...)"), its id when they are unknown."""
    text, day = review.get("resolution_text"), review.get("resolution_date")
    if not text:
        return str(review["resolution_id"])
    return f"«{text}»" + (f" (ngày {vn_date(dt.date.fromisoformat(day))})" if day else "")


_CORRECTION_LABELS = {"place": "Địa điểm", "topic": "Chủ đề", "chair_id": "Chủ trì", "minute_taker_id": "Thư ký",
                      "start_time": "Giờ bắt đầu", "end_time": "Giờ kết thúc"}


def _correction_label(path: str, name: Any) -> str:
    """What a correction changed, as the minutes say it (the path stays in the event and the API)."""
    head, _, rest = path.partition(".")
    if path in _CORRECTION_LABELS:
        return _CORRECTION_LABELS[path]
    if head == "attendance":
        return f"Điểm danh {name(rest)}"
    if head == "speakers":
        return f"Ý kiến phát biểu thứ {int(rest.partition('.')[0]) + 1}"
    if head == "resolutions":
        return "Nội dung nghị quyết"
    return path


def _correction_value(path: str, value: Any, name: Any) -> str:
    if value is None or value == "":
        return "(trống)"
    if path in ("chair_id", "minute_taker_id"):
        return name(value)
    if path.startswith("attendance.") and isinstance(value, dict):
        if value.get("present"):
            return "có mặt"
        return f"vắng có lý do ({value.get('reason')})" if value.get("excused") else "vắng không lý do"
    return str(value)


def render_html(view: dict[str, Any], cell_name: str) -> str:
    return _ENV.get_template("minutes.html").render(m=minutes_sections(view, cell_name))


def render_docx(view: dict[str, Any], cell_name: str) -> bytes:
    from docx import Document

    m = minutes_sections(view, cell_name)
    doc = Document()
    doc.core_properties.title = m.title
    doc.add_paragraph("ĐẢNG CỘNG SẢN VIỆT NAM")
    doc.add_heading(m.title, level=1)
    table = doc.add_table(rows=0, cols=2)
    for label, value in m.facts:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    for section in m.sections:
        doc.add_heading(section.heading, level=2)
        for line in section.lines or ["không"]:
            doc.add_paragraph(line, style="List Bullet")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
