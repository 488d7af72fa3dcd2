"""Roll-ups and the flagged-member list as party documents (exports.Document), in Vietnamese or English."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.reporting.exports import Column, Document

FLAG_REASONS = {
    "vi": {"absence.unexcused": "vắng không lý do từ 3 lần", "absence.consecutive": "vắng quá 3 lần liên tiếp",
           "dues.unpaid": "không đóng đảng phí từ 3 tháng"},
    "en": {"absence.unexcused": "3 or more unexcused absences", "absence.consecutive": "more than 3 absences in a row",
           "dues.unpaid": "3 or more months of dues unpaid"},
}
TEXT = {
    "vi": {"rollup_title": "BÁO CÁO TÌNH HÌNH SINH HOẠT CHI BỘ", "flagged_title":
           "DANH SÁCH ĐẢNG VIÊN CẦN XEM XÉT", "group": "Đơn vị / khối", "cells": "Số chi bộ",
           "regular": "Sinh hoạt thường kỳ đủ các tháng", "thematic": "Sinh hoạt chuyên đề đủ các quý",
           "attendance": "Tỷ lệ dự sinh hoạt", "decide": "Buổi đủ điều kiện biểu quyết",
           "procedure": "Buổi đúng đủ quy trình", "reviewed": "Nghị quyết kiểm điểm đúng hạn",
           "supervisor": "Cấp ủy viên dự", "flagged": "Đảng viên cần xem xét",
           "below": "Chi bộ dưới 3 đảng viên chính thức",
           "total": "Tổng cộng", "name": "Họ và tên", "cell": "Chi bộ", "summoned": "Số buổi triệu tập",
           "attended": "Có mặt", "excused": "Vắng có lý do", "unexcused": "Vắng không lý do",
           "run": "Vắng liên tiếp nhiều nhất", "dues": "Tháng chưa đóng đảng phí", "reasons": "Lý do",
           "month": "Tháng {m} năm {y}", "quarter": "Quý {q} năm {y}", "year": "Năm {y}",
           "everything": "Toàn thành phố"},
    "en": {"rollup_title": "REPORT ON PARTY CELL MEETINGS", "flagged_title": "MEMBERS TO BE CONSIDERED",
           "group": "Unit / block", "cells": "Cells", "regular": "Met every month",
           "thematic": "Thematic every quarter",
           "attendance": "Attendance", "decide": "Able to decide", "procedure": "Full procedure",
           "reviewed": "Resolutions reviewed in time", "supervisor": "Supervisor present", "flagged": "Flagged members",
           "below": "Cells below 3 official members", "total": "Total", "name": "Full name", "cell": "Cell",
           "summoned": "Summoned", "attended": "Attended", "excused": "Excused", "unexcused": "Unexcused",
           "run": "Longest run of absences", "dues": "Months of dues unpaid", "reasons": "Reasons",
           "month": "{m}/{y}", "quarter": "Q{q} {y}", "year": "Year {y}", "everything": "The whole city"},
}
ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}


def period_name(period: dict[str, str], lang: str) -> str:
    t, label = TEXT[lang], period["label"]
    if period["kind"] == "month":
        return t["month"].format(m=int(label[5:7]), y=label[:4])
    if period["kind"] == "quarter":
        q = label[-1]
        return t["quarter"].format(q=ROMAN[q] if lang == "vi" else q, y=label[:4])
    return t["year"].format(y=label[:4])


def _row(label: str, f: dict[str, Any]) -> dict[str, Any]:
    return {"group": label, "cells": f["cells"], "regular": f["regular_every_month"]["rate"],
            "thematic": f["thematic_every_quarter"]["rate"], "attendance": f["attendance"]["rate"],
            "decide": f["able_to_decide"]["rate"], "procedure": f["full_procedure"]["rate"],
            "reviewed": f["resolutions_reviewed_in_time"]["rate"], "supervisor": f["supervisor_coverage"]["rate"],
            "flagged": f["flagged_members"], "below": f["cells_below_minimum"]["count"]}


def rollup_document(result: dict[str, Any], *, superior: str, place: str, issued_on: dt.date,
                    lang: str = "vi") -> Document:
    t = TEXT[lang]
    unit = result["unit"]["name"] if result["unit"] else t["everything"]
    kinds = {"group": "text", "cells": "int", "flagged": "int", "below": "int"}
    columns = tuple(Column(k, t[k], kinds.get(k, "percent")) for k in (
        "group", "cells", "regular", "thematic", "attendance", "decide", "procedure", "reviewed", "supervisor",
        "flagged", "below"))
    rows = [_row(g["label"], g["figures"]) for g in result["groups"]]
    rows.append(_row(t["total"], result["figures"]))
    return Document(superior=superior, unit=unit, place=place, issued_on=issued_on, title=t["rollup_title"],
                    subtitle=period_name(result["period"], lang), columns=columns, rows=tuple(rows),
                    notes=tuple(result["report"]), lang=lang)


def flagged_document(result: dict[str, Any], *, unit: str, superior: str, place: str, issued_on: dt.date,
                     lang: str = "vi") -> Document:
    t = TEXT[lang]
    columns = (Column("name", t["name"], "name"), Column("cell", t["cell"]), Column("summoned", t["summoned"], "int"),
               Column("attended", t["attended"], "int"), Column("excused", t["excused"], "int"),
               Column("unexcused", t["unexcused"], "int"), Column("run", t["run"], "int"),
               Column("dues", t["dues"], "int"), Column("reasons", t["reasons"]))
    rows = tuple({"name": m["full_name"], "cell": m["cell"]["name"], "summoned": m["summoned"],
                  "attended": m["attended"], "excused": m["excused"], "unexcused": m["unexcused"],
                  "run": m["longest_absence_run"], "dues": m["dues_unpaid"],
                  "reasons": "; ".join(FLAG_REASONS[lang].get(r, r) for r in m["flag_reasons"])}
                 for m in result["items"])
    return Document(superior=superior, unit=unit, place=place, issued_on=issued_on, title=t["flagged_title"],
                    subtitle=t["year"].format(y=result["year"]), columns=columns, rows=rows, sort_by_name="name",
                    lang=lang)
