"""The reporting queries behind the HTTP API, free of nameko: parameters in, JSON-ready dicts out.

Every query reads one consistent view of the store and reports on a date (`today` in Việt Nam, or the as-of
date of a time-travel store). Bad parameters raise DomainError naming the parameter (a 4xx).
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from services.reporting import documents, exports
from services.reporting.compliance import drill, rollup, tally, wording
from services.reporting.compliance.cell_month import cell_months, parse_month
from services.reporting.compliance.periods import Period, month_end, month_range, parse_period
from services.reporting.compliance.rows import in_cells, scope_cells
from services.reporting.compliance.tree import Tree, TreeMode
from shared.errors import DomainError, NotFound
from shared.params import int_arg, uuid_arg
from shared.stores import Sql

Args = Mapping[str, str]
MAX_PAGE = 1000


def page_of(args: Args, items: list[Any], default_size: int = 100) -> dict[str, Any]:
    """`?page=` (from 1) and `?page_size=` (up to MAX_PAGE) over a list, with the total."""
    page = int_arg(args, "page", 1, 1, 10**9)
    size = int_arg(args, "page_size", default_size, 1, MAX_PAGE)
    start = (page - 1) * size
    return {"total": len(items), "page": page, "page_size": size,
            "pages": max(1, math.ceil(len(items) / size)), "items": items[start:start + size]}


def tree_mode(args: Args) -> TreeMode:
    mode = args.get("tree") or "period"
    if mode not in ("period", "today"):
        raise DomainError("tree", f"must be 'period' (the tree as it stood) or 'today', not {mode!r}",
                          rule="tree.mode",
                          vi=f"phải là 'period' (cây tổ chức khi đó) hoặc 'today', không phải {mode!r}")
    return mode  # type: ignore[return-value]


def block_arg(args: Args) -> str | None:
    block = args.get("block") or None
    if block is not None and block not in tally.BLOCKS:
        raise DomainError("block", f"must be one of {', '.join(tally.BLOCKS)}, not {block!r}", rule="block.unknown",
                          vi=f"phải là một trong {', '.join(tally.BLOCKS)}, không phải {block!r}")
    return block


def unit_arg(args: Args, tree: Tree, name: str = "unit") -> str | None:
    """A unit's id, or its code (`?unit=TG`); 404 naming the parameter when reporting knows no such unit."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        unit_id = str(uuid.UUID(raw))
    except ValueError:
        matches = [u.unit_id for u in tree.units.values() if u.code == raw]
        if not matches:
            raise NotFound(name, f"no unit with the id or code {raw!r} is known to reporting", rule="unit.unknown",
                           vi=f"dịch vụ báo cáo chưa biết đơn vị có mã {raw!r}") from None
        return matches[0]
    if unit_id not in tree.units:
        raise NotFound(name, f"no unit {unit_id} is known to reporting", rule="unit.unknown",
                       vi=f"dịch vụ báo cáo chưa biết đơn vị {unit_id}")
    return unit_id


def _unit_json(tree: Tree, unit_id: str | None, day: dt.date) -> dict[str, Any] | None:
    if unit_id is None:
        return None
    u = tree.units[unit_id]
    return {"unit_id": unit_id, "kind": u.kind, "code": u.code, "name": tree.name(unit_id, min(day, u.last_day(day))),
            "block": u.block}


class Queries:
    def __init__(self, sql: Sql, today: dt.date):
        self.sql = sql
        self.today = today
        self.tree = Tree.cached(sql)

    def _reveal(self, obj: Any) -> Any:
        """Names are stored sealed (shared/pii.py): opened here, when answering, or the erasure placeholder."""
        ring = getattr(self.sql, "ring", None)
        return ring.reveal(obj) if ring is not None else obj

    def _scope(self, args: Args) -> tuple[str | None, Period, TreeMode, str | None]:
        period = parse_period(args.get("period") or str(self.today.year), self.today)
        return unit_arg(args, self.tree), period, tree_mode(args), block_arg(args)

    def rollup(self, args: Args, lang: str = "vi") -> dict[str, Any]:
        unit, period, mode, block = self._scope(args)
        by = args.get("by") or "block"
        if by not in ("block", "children", "none"):
            raise DomainError("by", f"must be 'block', 'children' or 'none', not {by!r}", rule="rollup.by",
                              vi=f"phải là 'block', 'children' hoặc 'none', không phải {by!r}")
        tallies = tally.collect(self.sql, self.tree, period, mode, self.today, unit)
        result = tally.rollup(tallies, unit, None if by == "none" else by, block)
        day = min(period.last, self.today)
        for group in result["groups"]:
            if by == "children":
                group["unit"] = _unit_json(self.tree, group["key"], day)
                group["label"] = group["unit"]["name"]
            else:
                group["label"] = wording.BLOCK_NAMES[lang].get(group["key"], group["key"])
        query = _query(unit, period, mode, block)
        result["drill"] = {name: f"/reporting/compliance/drill?{query}&figure={name}" for name in drill.FIGURES}
        by_block = result if by == "block" else tally.rollup(tallies, unit, "block", block)
        return {"unit": _unit_json(self.tree, unit, day), "period": period.as_json(), "tree": mode, "block": block,
                "by": by, "report_date": self.today.isoformat(), **result,
                "report": wording.report_lines(by_block, lang)}

    def drill(self, args: Args) -> dict[str, Any]:
        unit, period, mode, block = self._scope(args)
        figure = args.get("figure") or ""
        if figure not in drill.FIGURES:
            raise DomainError("figure", f"must be one of {', '.join(drill.FIGURES)}, not {figure!r}",
                              rule="figure.unknown", vi=f"phải là một trong {', '.join(drill.FIGURES)}, "
                                                        f"không phải {figure!r}")
        facts = rollup.collect(self.sql, self.tree, period, mode, self.today, unit)
        mine = facts.where(lambda f: rollup.under(unit)(f) and (block is None or f.block == block))
        items = self._reveal(drill.items(mine, self.tree, figure))
        if figure == "flagged_members":  # by name once the names are opened
            items.sort(key=lambda m: (m["year"], m["full_name"], m["member_id"]))
        return {"unit": _unit_json(self.tree, unit, min(period.last, self.today)), "period": period.as_json(),
                "tree": mode, "block": block, "figure": figure, "value": rollup.figures(mine).get(figure),
                **page_of(args, items)}

    def cell_months(self, args: Args) -> dict[str, Any]:
        this_month = self.today.strftime("%Y-%m")
        first = parse_month("from", args.get("from"), this_month[:4] + "-01")
        last = parse_month("to", args.get("to"), this_month)
        if last < first:
            raise DomainError("to", "must not be before from", rule="period.order",
                              vi="tháng kết thúc không được trước tháng bắt đầu")
        if first > this_month:
            raise DomainError("from", "is in the future", rule="period.not_future", vi="là tháng trong tương lai")
        if last > this_month:
            raise DomainError("to", "is in the future", rule="period.not_future", vi="là tháng trong tương lai")
        unit, mode, block = unit_arg(args, self.tree), tree_mode(args), block_arg(args)
        rows = cell_months(self.sql, month_range(first, last), self.today, unit, mode, block, tree=self.tree)
        return {"from": first, "to": last, "unit": unit, "tree": mode, "block": block,
                **page_of(args, rows, default_size=MAX_PAGE)}

    def member_years(self, args: Args) -> dict[str, Any]:
        year = args.get("year") or str(self.today.year)
        period = parse_period(year, self.today, field="year")
        if period.kind != "year":
            raise DomainError("year", f"must be a year (2026), not {year!r}", rule="period.format",
                              vi=f"phải là năm (2026), không phải {year!r}")
        unit, mode, block = unit_arg(args, self.tree), tree_mode(args), block_arg(args)
        flagged = (args.get("flagged") or "").lower() in ("1", "true", "yes")
        where, params = in_cells("cell_id", scope_cells(self.tree, unit))
        rows = self.sql.execute("SELECT * FROM member_years WHERE year = ?" + (" AND flagged = 1" if flagged else "")
                                + where, (year, *params)).fetchall()
        items = []
        for r in rows:
            cell = self.tree.units.get(r["cell_id"])
            if block is not None and (cell is None or cell.block != block):
                continue
            if unit is None or unit in self.tree.path(r["cell_id"], month_end(r["last_date"][:7]), mode, self.today):
                items.append(drill.member_year_item(self.tree, dict(r)))
        items = self._reveal(items)
        items.sort(key=lambda m: (m["full_name"], m["member_id"]))
        return {"year": year, "unit": unit, "tree": mode, "block": block, "flagged_only": flagged,
                **page_of(args, items)}

    def supervisors(self, args: Args) -> dict[str, Any]:
        """How often each committee member attended the meetings of the cells assigned to them (design.md §2)."""
        unit, period, mode, block = self._scope(args)
        where, params = in_cells("m.cell_id", scope_cells(self.tree, unit))
        rows = self.sql.execute(
            "SELECT s.supervisor_id, m.cell_id, m.meeting_id, m.date, m.month,"
            " (SELECT COUNT(*) FROM meeting_guests g WHERE g.meeting_id = m.meeting_id"
            "  AND g.guest_id = s.supervisor_id) AS attended"
            " FROM supervisions s JOIN meetings m ON m.cell_id = s.cell_id AND m.date >= s.valid_from"
            " AND (s.valid_to IS NULL OR m.date < s.valid_to)"
            " WHERE m.status IN ('held', 'closed') AND m.date >= ? AND m.date <= ? AND m.date <= ?" + where,
            (period.first.isoformat(), period.last.isoformat(), self.today.isoformat(), *params)).fetchall()
        people: dict[str, dict[str, Any]] = {}
        for r in rows:
            cell = self.tree.units.get(r["cell_id"])
            path = self.tree.path(r["cell_id"], month_end(r["month"]), mode, self.today)
            if (unit is not None and unit not in path) or (block is not None and (cell is None or cell.block != block)):
                continue
            p = people.setdefault(r["supervisor_id"], {"supervisor_id": r["supervisor_id"], "cells": set(),
                                                       "meetings": 0, "attended": 0})
            p["cells"].add(cell.code if cell else r["cell_id"])
            p["meetings"] += 1
            p["attended"] += int(r["attended"]) > 0
        items = []
        for p in people.values():
            name = self.sql.scalar("SELECT full_name FROM members WHERE member_id = ?", (p["supervisor_id"],))
            items.append(p | {"full_name": name, "cells": sorted(p["cells"]),
                              "rate": round(p["attended"] / p["meetings"], 4)})
        items = self._reveal(items)
        items.sort(key=lambda p: (p["full_name"] or "", p["supervisor_id"]))
        return {"unit": _unit_json(self.tree, unit, min(period.last, self.today)), "period": period.as_json(),
                "tree": mode, **page_of(args, items)}

    def meeting(self, meeting_id: str) -> dict[str, Any]:
        found = drill.meeting_detail(self.sql, self.tree, _uuid("meeting_id", meeting_id))
        if found is None:
            raise NotFound("meeting_id", f"no meeting {meeting_id} is known to reporting", rule="meeting.unknown",
                           vi=f"dịch vụ báo cáo chưa biết buổi sinh hoạt {meeting_id}")
        found = self._reveal(found)
        for part in ("roster", "guests"):  # by name, once the names are opened
            if isinstance(found.get(part), list):
                found[part].sort(key=lambda e: (e.get("full_name") or "", e.get("member_id") or e.get("guest_id")))
        return found

    def member(self, member_id: str, args: Args) -> dict[str, Any]:
        year = parse_period(args.get("year") or str(self.today.year), self.today, field="year").label[:4]
        found = drill.member_detail(self.sql, self.tree, _uuid("member_id", member_id), year)
        if found is None:
            raise NotFound("member_id", f"no member {member_id} is known to reporting", rule="member.unknown",
                           vi=f"dịch vụ báo cáo chưa biết đảng viên {member_id}")
        return self._reveal(found)

    def cell(self, cell_id: str, args: Args) -> dict[str, Any]:
        found = drill.cell_detail(self.tree, _uuid("unit_id", cell_id), self.today)
        if found is None:
            raise NotFound("unit_id", f"no unit {cell_id} is known to reporting", rule="unit.unknown",
                           vi=f"dịch vụ báo cáo chưa biết đơn vị {cell_id}")
        period = parse_period(args.get("period") or str(self.today.year), self.today)
        found["period"] = period.as_json()
        found["months"] = cell_months(self.sql, period, self.today, found["unit_id"], tree=self.tree)
        return found

    def events(self, column: str, value: str, args: Args) -> dict[str, Any]:
        size = int_arg(args, "page_size", 100, 1, MAX_PAGE)
        page = int_arg(args, "page", 1, 1, 10**9)
        total, items = drill.events(self.sql, column, _uuid(column, value), (page - 1) * size, size)
        return {column: value, "total": total, "page": page, "page_size": size,
                "pages": max(1, math.ceil(total / size)), "items": self._reveal(items)}

    def units(self, args: Args, keep: Callable[[str], bool] = lambda unit_id: True) -> dict[str, Any]:
        """Every unit reporting knows (`?kind=`), of those `keep` lets through (the caller's reach)."""
        kind = args.get("kind") or None
        items = [_unit_json(self.tree, u.unit_id, self.today) | {
                    "created_on": u.created_on.isoformat(), "ended_on": u.ended_on.isoformat() if u.ended_on else None}
                 for u in self.tree.units.values() if (kind is None or u.kind == kind) and keep(u.unit_id)]
        items.sort(key=lambda u: (u["kind"], u["code"]))
        return page_of(args, items)


    def export(self, what: str, fmt: str, lang: str, args: Args) -> tuple[bytes, str, str]:
        """A roll-up (`rollup`) or the flagged-member list (`flagged`) as a party document: bytes, MIME type,
        file name. `?place=` names the place on the date line (default: Hà Nội)."""
        place = (args.get("place") or "Hà Nội").strip()[:100]
        if any(unicodedata.category(c) == "Cc" for c in place):
            raise DomainError("place", "must be plain text (no control characters)", rule="place.text",
                              vi="phải là văn bản thường (không có ký tự điều khiển)")
        if what == "rollup":
            result = self.rollup(args, lang)
            unit = result["unit"]["unit_id"] if result["unit"] else None
            doc = documents.rollup_document(result, superior=self._superior(unit), place=place,
                                            issued_on=self.today, lang=lang)
        else:
            result = self.member_years({**args, "flagged": "true", "page_size": str(MAX_PAGE)})
            items = result["items"]
            while len(items) < result["total"]:
                more = self.member_years({**args, "flagged": "true", "page_size": str(MAX_PAGE),
                                          "page": str(len(items) // MAX_PAGE + 1)})
                items += more["items"]
            unit = result["unit"]
            name = self.tree.name(unit, self.today) if unit else documents.TEXT[lang]["everything"]
            doc = documents.flagged_document(result | {"items": items}, unit=name, superior=self._superior(unit),
                                             place=place, issued_on=self.today, lang=lang)
        if fmt == "xlsx":
            return exports.to_xlsx(doc), exports.XLSX_MIME, exports.filename(doc, "xlsx")
        delimiter = ";" if args.get("delimiter") in (";", "semicolon") else ","
        return exports.to_csv(doc, delimiter=delimiter), exports.CSV_MIME, exports.filename(doc, "csv")

    def _superior(self, unit_id: str | None) -> str:
        """The name of the committee above the unit (the document's first header line)."""
        if unit_id is None:
            return ""
        parent = self.tree.units[unit_id].parent_on(self.tree.units[unit_id].last_day(self.today))
        return self.tree.name(parent, self.today) if parent else ""


def _uuid(field: str, raw: str) -> str:
    return str(uuid_arg(field, raw))


def _query(unit: str | None, period: Period, mode: str, block: str | None) -> str:
    parts = [f"period={period.label}", f"tree={mode}"]
    if unit:
        parts.insert(0, f"unit={unit}")
    if block:
        parts.append(f"block={block}")
    return "&".join(parts)
