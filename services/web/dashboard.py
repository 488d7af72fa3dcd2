"""The compliance dashboard of a unit and a period: headline tiles with their targets, the month-by-month
chart, breakdowns by block and by child unit, drill-down to what is behind a figure, and the exports."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from werkzeug.wrappers import Response

from services.policy import policy_on
from services.web import text
from services.web.charts import Series, bars
from services.web.site import Page

TILES = ("regular_every_month", "thematic_every_quarter", "attendance", "able_to_decide", "full_procedure",
         "resolutions_reviewed_in_time", "supervisor_coverage", "participation", "flagged_members",
         "cells_below_minimum", "meetings", "cells")
COUNTED = ("cells_below_minimum",)
TABLE_FIGURES = ("cells", "meetings", "regular_every_month", "attendance", "full_procedure",
                 "resolutions_reviewed_in_time", "flagged_members")


def today_vn() -> dt.date:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=7)).date()


def target(name: str, day: dt.date) -> tuple[str, float | int] | None:
    """The policy's target for a headline figure: ('>=', rate) or ('=', count); None when it has none."""
    if name == "attendance":
        return (">=", policy_on(day).attendance_target_percent / 100)
    if name in ("regular_every_month", "thematic_every_quarter", "able_to_decide", "full_procedure",
                "resolutions_reviewed_in_time", "supervisor_coverage"):
        return (">=", 1.0)  # every cell, every meeting, every resolution (design.md §2)
    if name in ("flagged_members", "cells_below_minimum"):
        return ("=", 0)
    return None


def _count(value: Any) -> int:
    return int(value["count"]) if isinstance(value, dict) else int(value or 0)


def tile(name: str, value: Any, lang: str, day: dt.date) -> dict[str, Any]:
    aim = target(name, day)
    rate = value.get("rate") if isinstance(value, dict) else None
    shown = text.percent(rate, lang) if isinstance(value, dict) else text.number(value, lang)
    if name in COUNTED and isinstance(value, dict):  # a number of cells, not a share, is what a committee acts on
        shown = text.number(value.get("count"), lang)
    detail = ""
    if isinstance(value, dict):
        if "speakers" in value:  # participation: speakers of those present
            count, of = value["speakers"], value.get("present")
        elif "base" in value:  # attendance: present of those expected
            count, of = value.get("present"), value["base"]
        else:
            count, of = value.get("count"), value.get("of")
        detail = f"{text.number(count, lang)}/{text.number(of, lang)}"
    met = None
    aim_text = ""
    if aim is not None:
        if aim[0] == ">=":
            met = rate is not None and rate >= aim[1]
            aim_text = ("≥ " if aim[1] < 1 else "") + text.percent(float(aim[1]), lang)
        else:
            met = _count(value) == aim[1]
            aim_text = text.number(aim[1], lang)
    return {"name": name, "label": text.figure_label(name, lang), "value": shown, "detail": detail,
            "target": aim_text, "met": met}


def period_months(period: str) -> list[str]:
    """The months of '2026', '2026-Q2' or '2026-03'."""
    if len(period) == 4:
        return [f"{period}-{m:02d}" for m in range(1, 13)]
    if "-Q" in period:
        year, q = period.split("-Q")
        return [f"{year}-{m:02d}" for m in range(3 * int(q) - 2, 3 * int(q) + 1)]
    return [period]


def monthly(rows: list[dict[str, Any]], months: list[str]) -> list[dict[str, Any]]:
    """Per month: cells due, cells that held their regular meeting, attendance."""
    out = {m: {"month": m, "due": 0, "met": 0, "present": 0, "base": 0} for m in months}
    for r in rows:
        m = out.get(r["month"])
        if m is None:
            continue
        if r.get("due"):
            m["due"] += 1
            m["met"] += 1 if r.get("regular_held") else 0
        m["present"] += int(r.get("present") or 0)
        m["base"] += int(r.get("attendance_base") or 0)
    for m in out.values():
        m["met_rate"] = m["met"] / m["due"] if m["due"] else None
        m["attendance_rate"] = m["present"] / m["base"] if m["base"] else None
    return list(out.values())


def cell_month_rows(page: Page, unit: str | None, months: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    number = 1
    while True:
        answer = page.api.get("reporting", "/compliance/cell-months", unit=unit, page=number,
                              **{"from": months[0], "to": months[-1], "page_size": 1000})
        rows.extend(answer["items"])
        if number >= int(answer.get("pages") or 1):
            return rows
        number += 1


def scope(page: Page) -> tuple[str | None, str, str]:
    assert page.session is not None
    args = page.request.args
    unit = args.get("unit") or page.session.principal.unit_id
    period = (args.get("period") or str(today_vn().year)).strip()
    by = args.get("by") if args.get("by") in ("children", "block") else "children"
    return unit, period, by


def periods(now: dt.date, lang: str) -> list[tuple[str, str]]:
    years = [str(now.year - i) for i in range(3)]
    quarters = [f"{now.year}-Q{q}" for q in range(1, (now.month - 1) // 3 + 2)]
    months = [f"{now.year}-{m:02d}" for m in range(1, now.month + 1)]
    return [(p, p) for p in [*years, *quarters, *months]]


def dashboard(page: Page) -> Response:
    unit, period, _ = scope(page)
    lang, now = page.lang, today_vn()
    by_child = page.api.get("reporting", "/compliance/rollup", unit=unit, period=period, by="children")
    by_block = page.api.get("reporting", "/compliance/rollup", unit=by_child["unit"]["unit_id"] if
                            by_child.get("unit") else unit, period=period, by="block")
    months = period_months(by_child["period"]["label"])
    past = [m for m in months if m <= now.strftime("%Y-%m")]  # the API refuses months still to come
    month_rows = monthly(cell_month_rows(page, unit, past) if past else [], months)
    chart = bars([m["month"][5:] + "/" + m["month"][:4] if lang == "vi" else m["month"] for m in month_rows], [
        Series(page.t("cells_met"), "bar-a", [m["met_rate"] for m in month_rows],
               [f"{m['met']}/{m['due']}" for m in month_rows]),
        Series(page.t("attendance"), "bar-b", [m["attendance_rate"] for m in month_rows],
               [text.percent(m["attendance_rate"], lang) for m in month_rows]),
    ], page.t("month_chart"))
    unit_id = by_child["unit"]["unit_id"] if by_child.get("unit") else None
    scope_args = {"unit": unit_id or "", "period": by_child["period"]["label"]}
    figures = by_child["figures"]
    # the units above cells the user may open (the API keeps only those within reach), for the unit selector
    reachable = page.api.get("reporting", "/units", page_size=1000)["items"]
    units = sorted(((u["unit_id"], u["name"]) for u in reachable if u["kind"] != "cell" and not u.get("ended_on")),
                   key=lambda u: text.sort_key(u[1]))
    tiles = [tile(name, figures.get(name), lang, now) for name in TILES if name in figures]

    def rows(answer: dict[str, Any], child: bool) -> list[dict[str, Any]]:
        out = []
        for g in answer.get("groups") or []:
            u = g.get("unit") or {}
            link = ""
            if child and u.get("kind") == "cell":
                link = f"/web/cells/{u['unit_id']}"
            elif child and u.get("unit_id"):
                link = "/web/dashboard?" + urlencode({"unit": u["unit_id"], "period": scope_args["period"]})
            cells = []
            for name in TABLE_FIGURES:
                value = g["figures"].get(name)
                rate = value.get("rate") if isinstance(value, dict) else None
                cells.append({"shown": text.percent(rate, lang) if isinstance(value, dict) else
                              text.number(value, lang), "sort": rate if isinstance(value, dict) else value})
            out.append({"label": g.get("label") or g["key"], "link": link, "cells": cells})
        return sorted(out, key=lambda r: text.sort_key(r["label"]))

    exports = [(f"/web/export/{what}.{fmt}?" + urlencode({**scope_args, "by": by} if what == "rollup" else
                                                          {"unit": scope_args["unit"],
                                                           "year": scope_args["period"][:4]}), label)
               for what, fmt, by, label in (
                   ("rollup", "xlsx", "children", "XLSX"), ("rollup", "csv", "children", "CSV"),
                   ("flagged", "xlsx", "", f"{page.t('flagged_export')} XLSX"),
                   ("flagged", "csv", "", f"{page.t('flagged_export')} CSV"))]
    return page.render("dashboard.html", answer=by_child, tiles=tiles, chart=Markup(chart), months=month_rows,
                       child_rows=rows(by_child, True), block_rows=rows(by_block, False),
                       table_figures=TABLE_FIGURES, scope=scope_args, periods=periods(now, lang), units=units,
                       drill_base="/web/drill?" + urlencode(scope_args), exports=exports,
                       report=by_child.get("report") or [])


LINKED = {"cell_id": "/web/cells/{}", "meeting_id": "/web/meetings/{}", "member_id": "/web/audit/member/{}"}
HIDDEN = {"links", "months", "meetings", "meeting_ids", "cell_id", "meeting_id", "member_id", "block_label"}


def drill(page: Page) -> Response:
    unit, period, _ = scope(page)
    figure = page.request.args.get("figure", "")
    answer = page.api.get("reporting", "/compliance/drill", unit=unit, period=period, figure=figure,
                          page=page.request.args.get("page"))
    items = answer.get("items") or []
    for item in items:  # a meeting's or a member's cell, by name
        if isinstance(item.get("cell"), dict):
            item["cell_name"] = item["cell"].get("name", "")
    columns: list[str] = []
    for item in items[:50]:
        for key, value in item.items():
            if key not in HIDDEN and key not in columns and not isinstance(value, dict | list):
                columns.append(key)
    rows = []
    for item in items:
        link = next((LINKED[k].format(item[k]) for k in ("meeting_id", "member_id", "cell_id") if item.get(k)), "")
        rows.append({"link": link, "cells": [show(item.get(c), c, page.lang) for c in columns]})
    return page.render("drill.html", answer=answer, figure=figure, rows=rows,
                       columns=[text.column(c, page.lang) for c in columns],
                       back="/web/dashboard?" + urlencode({"unit": answer["unit"]["unit_id"] if answer.get("unit")
                                                           else "", "period": answer["period"]["label"]}))


def show(value: Any, column: str, lang: str) -> str:
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int | float):
        return text.percent(value, lang) if "rate" in column else text.number(value, lang, 0 if isinstance(
            value, int) else 2)
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return text.date(value, lang)
    if column in ("block", "status", "kind", "outcome") and isinstance(value, str):
        return text.term(value, lang)
    return "" if value is None else str(value)


def export(page: Page, what: str, fmt: str) -> Response:
    r = page.api.download("reporting", f"/exports/{what}.{fmt}", **page.request.args.to_dict())
    return Response(r.content, status=200, headers={
        "Content-Type": r.headers.get("Content-Type", "application/octet-stream"),
        "Content-Disposition": r.headers.get("Content-Disposition", "attachment")})
