"""The report's own sentences, as district and city reports word them (seed 004: "100% of cells held
regular monthly meetings; 90% held thematic meetings; attendance 85% in the commune block, 100% in the
administrative block"), in Vietnamese by default."""

from __future__ import annotations

from typing import Any

from services.reporting.vietnamese import percent

BLOCK_NAMES = {
    "vi": {"residential": "khối xã, phường", "administrative": "khối cơ quan hành chính, sự nghiệp",
           "enterprise": "khối doanh nghiệp", "armed_forces": "khối lực lượng vũ trang"},
    "en": {"residential": "the commune and ward block", "administrative": "the administrative block",
           "enterprise": "the enterprise block", "armed_forces": "the armed forces block"},
}

TEXT = {
    "vi": {
        "regular": "{p} chi bộ duy trì sinh hoạt thường kỳ hằng tháng",
        "thematic": "{p} chi bộ sinh hoạt chuyên đề hằng quý",
        "attendance": "tỷ lệ đảng viên dự sinh hoạt đạt {p}",
        "in_block": "{p} ở {block}",
        "quality": "{decide} số buổi sinh hoạt đủ điều kiện biểu quyết (trên một nửa đảng viên chính thức có mặt); "
                   "{full} số buổi sinh hoạt thường kỳ đúng đủ quy trình; {speak} đảng viên có mặt phát biểu ý kiến",
        "follow_up": "{reviewed} nghị quyết được kiểm điểm đúng hạn; cấp ủy viên phụ trách dự {sup} số buổi "
                     "sinh hoạt của chi bộ được phân công",
        "flags": "{flagged} đảng viên cần xem xét (vắng sinh hoạt, không đóng đảng phí); {below} chi bộ dưới "
                 "3 đảng viên chính thức",
        "none": "chưa có số liệu",
    },
    "en": {
        "regular": "{p} of cells held regular monthly meetings",
        "thematic": "{p} held thematic meetings every quarter",
        "attendance": "attendance {p}",
        "in_block": "{p} in {block}",
        "quality": "{decide} of meetings able to decide (more than half of the official members present); "
                   "{full} of regular meetings with the full procedure; {speak} of members present spoke",
        "follow_up": "{reviewed} of resolutions reviewed in time; assigned committee members attended {sup} of "
                     "the meetings of their cells",
        "flags": "{flagged} members flagged (absences, dues); {below} cells below 3 official members",
        "none": "no data yet",
    },
}


def _p(figure: dict[str, Any], lang: str) -> str:
    return percent(figure.get("rate"), lang=lang)


def report_lines(result: dict[str, Any], lang: str = "vi") -> list[str]:
    """The headline sentence (with attendance per block when the roll-up is grouped by block), then the
    quality, follow-up and flag sentences. `result` is tally.rollup(..., by="block")."""
    t, f = TEXT[lang], result["figures"]
    attendance = t["attendance"].format(p=percent(f["attendance"]["rate"], lang=lang))
    blocks = [g for g in result.get("groups", []) if g["figures"]["attendance"]["base"]]
    if blocks:
        attendance = t["attendance"].format(p=", ".join(
            t["in_block"].format(p=percent(g["figures"]["attendance"]["rate"], lang=lang),
                                 block=BLOCK_NAMES[lang].get(g["key"], g["key"])) for g in blocks))
    headline = "; ".join([t["regular"].format(p=_p(f["regular_every_month"], lang)),
                          t["thematic"].format(p=_p(f["thematic_every_quarter"], lang)), attendance])
    return [_sentence(s) for s in (
        headline,
        t["quality"].format(decide=_p(f["able_to_decide"], lang), full=_p(f["full_procedure"], lang),
                            speak=percent(f["participation"]["rate"], lang=lang)),
        t["follow_up"].format(reviewed=_p(f["resolutions_reviewed_in_time"], lang),
                              sup=_p(f["supervisor_coverage"], lang)),
        t["flags"].format(flagged=f["flagged_members"], below=f["cells_below_minimum"]["count"]),
    )]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


COLUMNS = {
    "vi": [("cells", "Chi bộ"), ("regular_every_month", "SHTK đủ tháng"), ("thematic_every_quarter", "SHCĐ đủ quý"),
           ("attendance", "Dự họp"), ("able_to_decide", "Đủ biểu quyết"), ("full_procedure", "Đủ quy trình"),
           ("resolutions_reviewed_in_time", "NQ kiểm điểm"), ("flagged_members", "ĐV cần xem xét")],
    "en": [("cells", "Cells"), ("regular_every_month", "Met monthly"), ("thematic_every_quarter", "Thematic"),
           ("attendance", "Attendance"), ("able_to_decide", "Able to decide"), ("full_procedure", "Full procedure"),
           ("resolutions_reviewed_in_time", "Reviewed"), ("flagged_members", "Flagged")],
}
HEADINGS = {"vi": {"title": "Báo cáo sinh hoạt chi bộ — {unit}, kỳ {period}", "total": "Tổng cộng",
                   "everything": "toàn bộ các đơn vị"},
            "en": {"title": "Cell meetings report — {unit}, {period}", "total": "Total", "everything": "every unit"}}


def _cell(figure: Any, lang: str) -> str:
    if isinstance(figure, dict):
        return percent(figure.get("rate"), lang=lang)
    return str(figure)


def format_rollup(result: dict[str, Any], lang: str = "vi", width: int = 44, sentences: bool = True) -> str:
    """A roll-up as a plain-text table (one row per group, then the total) followed by the report's sentences."""
    h, columns = HEADINGS[lang], COLUMNS[lang]
    unit = result["unit"]["name"] if result.get("unit") else h["everything"]
    lines = [h["title"].format(unit=unit, period=result["period"]["label"]), ""]
    lines.append(" " * width + "".join(f"{title:>16}" for _, title in columns))
    for group in [*result["groups"], {"label": h["total"], "figures": result["figures"]}]:
        label = str(group.get("label") or group.get("key"))[: width - 1]
        lines.append(f"{label:<{width}}" + "".join(f"{_cell(group['figures'][k], lang):>16}" for k, _ in columns))
    if sentences:
        lines += ["", *result["report"]]
    return "\n".join(lines)
