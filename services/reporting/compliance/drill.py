"""Drill-down: the cells, meetings, resolutions and members behind each figure, and each of those in detail
with its events (who recorded them, when, from which request)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from services.reporting.compliance.rollup import REGULAR_KINDS, Fact, Facts
from services.reporting.compliance.tree import Tree
from shared.stores import Sql

# figure -> the kind of items behind it
CELL_FIGURES = ("cells", "regular_every_month", "regular_cell_months")
MEETING_FIGURES = ("meetings", "attendance", "able_to_decide", "full_procedure", "minimum_duration",
                   "participation", "supervisor_coverage")
FIGURES = (*CELL_FIGURES, "thematic_every_quarter", *MEETING_FIGURES, "resolutions_passed",
           "resolutions_reviewed_in_time", "flagged_members", "cells_below_minimum", "dues")


def _cell(tree: Tree, cell_id: str, day: dt.date) -> dict[str, Any]:
    unit = tree.units.get(cell_id)
    return {"cell_id": cell_id, "code": unit.code if unit else None,
            "name": tree.name(cell_id, min(day, unit.last_day(day)) if unit else day),
            "block": unit.block if unit else None, "links": {"cell": f"/reporting/cells/{cell_id}",
                                                              "events": f"/reporting/cells/{cell_id}/events"}}


def meeting_item(tree: Tree, m: dict[str, Any]) -> dict[str, Any]:
    keys = ("meeting_id", "kind", "topic", "status", "date", "minutes", "present", "attendance_base", "voting_base",
            "voters_present", "pending", "speakers_present", "able_to_decide", "duration_ok", "full_procedure",
            "supervisor_present", "resolutions_passed", "resolutions_rejected", "recorded_by", "policy_version")
    item = {k: m[k] for k in keys if k in m}
    if "has_supervisor" in m:
        item["has_supervisor"] = m["has_supervisor"]
    for k in ("able_to_decide", "supervisor_present", "has_supervisor"):
        if k in item:
            item[k] = bool(item[k])
    for k in ("duration_ok", "full_procedure"):
        if item.get(k) is not None:
            item[k] = bool(item[k])
    item["cell"] = _cell(tree, m["cell_id"], dt.date.fromisoformat(m["date"]))
    item["links"] = {"meeting": f"/reporting/meetings/{m['meeting_id']}",
                     "events": f"/reporting/meetings/{m['meeting_id']}/events"}
    return item


def items(facts: Facts, tree: Tree, figure: str) -> list[dict[str, Any]]:
    """What is behind `figure` in these facts (already filtered to a unit/block)."""
    today = facts.today
    if figure in CELL_FIGURES:
        by_cell: dict[str, list[Fact]] = {}
        for f in facts.cell_months:
            by_cell.setdefault(f.cell_id, []).append(f)
        out = []
        for cell_id, fs in by_cell.items():
            due = [f for f in fs if f.data["due"]]
            months = [{"month": f.data["month"], "due": f.data["due"], "regular_held": f.data["regular_held"],
                       "meetings": f.data["meeting_ids"]} for f in fs]
            out.append(_cell(tree, cell_id, today) | {
                "value": all(f.data["regular_held"] for f in due) if due else None,
                "months_due": len(due), "months_met": sum(f.data["regular_held"] for f in due), "months": months})
        return sorted(out, key=lambda c: (c["code"] or "", c["cell_id"]))
    if figure == "thematic_every_quarter":
        by_cell = {}
        for f in facts.cell_quarters:
            by_cell.setdefault(f.cell_id, []).append(f)
        return sorted((_cell(tree, cell_id, today) | {
            "value": all(f.data["thematic_held"] for f in fs if f.data["due"]) if any(f.data["due"] for f in fs)
            else None,
            "quarters": [{"quarter": f.data["quarter"], "due": f.data["due"], "thematic_held": f.data["thematic_held"]}
                         for f in fs]} for cell_id, fs in by_cell.items()),
            key=lambda c: (c["code"] or "", c["cell_id"]))
    if figure in MEETING_FIGURES:
        ms = [f.data for f in facts.meetings]
        if figure in ("full_procedure", "minimum_duration"):
            ms = [m for m in ms if m["kind"] in REGULAR_KINDS]
        elif figure == "supervisor_coverage":
            ms = [m for m in ms if m["has_supervisor"]]
        return [meeting_item(tree, m) for m in sorted(ms, key=lambda m: (m["date"], m["meeting_id"]))]
    if figure in ("resolutions_passed", "resolutions_reviewed_in_time"):
        rs = [f.data for f in facts.resolutions]
        if figure == "resolutions_reviewed_in_time":
            rs = [r for r in rs if r["review_status"] != "not_yet_due"]
        return [{k: r[k] for k in ("resolution_id", "meeting_id", "date", "kind", "text", "votes_for",
                                   "votes_against", "abstentions", "voting_base", "review_due", "review_status",
                                   "review_meeting_id", "reviewed_on", "review_outcome")}
                | {"cell": _cell(tree, r["cell_id"], dt.date.fromisoformat(r["date"])),
                   "links": {"meeting": f"/reporting/meetings/{r['meeting_id']}",
                             "events": f"/reporting/meetings/{r['meeting_id']}/events"}}
                for r in sorted(rs, key=lambda r: (r["date"], r["resolution_id"]))]
    if figure == "flagged_members":
        seen: dict[str, dict[str, Any]] = {}
        for f in facts.flagged:
            seen[f.data["member_id"] + f.data["year"]] = member_year_item(tree, f.data)
        return sorted(seen.values(), key=lambda m: (m["year"], m["full_name"], m["member_id"]))
    if figure == "cells_below_minimum":
        return sorted((_cell(tree, f.cell_id, today) | {k: f.data[k] for k in ("date", "official_members",
                                                                                 "below_minimum", "minimum")}
                       for f in facts.cells_at_end), key=lambda c: (not c["below_minimum"], c["code"] or ""))
    if figure == "dues":  # per cell and month; each member's months are on the member's page
        return sorted(({"month": f.data["month"], "paid": f.data["paid"], "recorded": f.data["recorded"],
                        "cell": _cell(tree, f.cell_id, today)} for f in facts.dues),
                      key=lambda d: (d["month"], d["cell"]["code"] or "", d["cell"]["cell_id"]))
    raise KeyError(figure)


def member_year_item(tree: Tree, y: dict[str, Any]) -> dict[str, Any]:
    return {k: y[k] for k in ("member_id", "year", "full_name", "summoned", "attended", "excused", "unexcused",
                              "longest_absence_run", "dues_unpaid")} | {
        "flagged": bool(y["flagged"]), "flag_reasons": [r for r in y["flag_reasons"].split(",") if r],
        "cell": _cell(tree, y["cell_id"], dt.date.fromisoformat(y["last_date"])),
        "links": {"member": f"/reporting/members/{y['member_id']}?year={y['year']}",
                  "events": f"/reporting/members/{y['member_id']}/events"}}


# -- details ------------------------------------------------------------------------------------------------

def meeting_detail(sql: Sql, tree: Tree, meeting_id: str) -> dict[str, Any] | None:
    m = sql.execute("SELECT * FROM meetings WHERE meeting_id = ?", (meeting_id,)).fetchone()
    if m is None:
        return None
    out = meeting_item(tree, dict(m))
    out["roster"] = [{**dict(r), "official": bool(r["official"]), "spoke": bool(r["spoke"]),
                      "links": {"member": f"/reporting/members/{r['member_id']}?year={m['date'][:4]}"}}
                     for r in sql.execute("SELECT member_id, full_name, status, official, outcome, reason, spoke"
                                          " FROM meeting_roster WHERE meeting_id = ? ORDER BY full_name, member_id",
                                          (meeting_id,)).fetchall()]
    out["guests"] = [dict(g) | {"assigned": bool(g["assigned"])} for g in sql.execute(
        "SELECT guest_id, full_name, assigned FROM meeting_guests WHERE meeting_id = ? ORDER BY full_name",
        (meeting_id,)).fetchall()]
    out["agenda_steps"] = [r["step"] for r in sql.execute(
        "SELECT step FROM meeting_steps WHERE meeting_id = ? ORDER BY step", (meeting_id,)).fetchall()]
    out["resolutions"] = [dict(r) | {"passed": bool(r["passed"])} for r in sql.execute(
        "SELECT resolution_id, kind, text, passed, reason, votes_for, votes_against, abstentions, voting_base,"
        " review_meeting_id, reviewed_on, review_outcome FROM resolutions WHERE meeting_id = ?"
        " ORDER BY resolution_id", (meeting_id,)).fetchall()]
    return out


def member_detail(sql: Sql, tree: Tree, member_id: str, year: str) -> dict[str, Any] | None:
    y = sql.execute("SELECT * FROM member_years WHERE member_id = ? AND year = ?", (member_id, year)).fetchone()
    member = sql.execute("SELECT * FROM members WHERE member_id = ?", (member_id,)).fetchone()
    if y is None and member is None:
        return None
    out: dict[str, Any] = {"member_id": member_id, "year": year,
                           "register": dict(member) if member is not None else None,
                           "figures": member_year_item(tree, dict(y)) if y is not None else None}
    out["meetings"] = [dict(r) | {"links": {"meeting": f"/reporting/meetings/{r['meeting_id']}"}}
                       for r in sql.execute(
        "SELECT m.meeting_id, m.date, m.kind, m.cell_id, r.status, r.outcome, r.reason, r.spoke"
        " FROM meeting_roster r JOIN meetings m ON m.meeting_id = r.meeting_id"
        " WHERE r.member_id = ? AND m.date >= ? AND m.date <= ? AND m.status IN ('held', 'closed')"
        " ORDER BY m.date, m.meeting_id", (member_id, f"{year}-01-01", f"{year}-12-31")).fetchall()]
    out["dues"] = [dict(d) | {"paid": bool(d["paid"])} for d in sql.execute(
        "SELECT month, paid, meeting_id FROM dues WHERE member_id = ? AND month >= ? AND month <= ? ORDER BY month",
        (member_id, f"{year}-01", f"{year}-12")).fetchall()]
    return out


def cell_detail(tree: Tree, cell_id: str, today: dt.date) -> dict[str, Any] | None:
    unit = tree.units.get(cell_id)
    if unit is None:
        return None
    return {"unit_id": cell_id, "kind": unit.kind, "code": unit.code, "block": unit.block,
            "created_on": unit.created_on.isoformat(),
            "ended_on": unit.ended_on.isoformat() if unit.ended_on else None, "end_kind": unit.end_kind,
            "merged_into": unit.merged_into,
            "names": [{"from": d.isoformat(), "name": n} for d, n in unit.names],
            "parents": [{"from": d.isoformat(), "parent_id": p} for d, p in unit.parents],
            "path_today": list(tree.path_today(cell_id, today))}


EVENT_COLUMNS = ("source", "position", "event_id", "type", "version", "occurred_at", "recorded_at", "recorded_by",
                 "correlation_id", "stream_id", "stream_version")


def events(sql: Sql, column: str, value: str, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """The events about one meeting, member or unit, oldest first: who recorded each, when, from which request."""
    assert column in ("meeting_id", "member_id", "cell_id")
    total = int(sql.scalar(f"SELECT COUNT(*) FROM events WHERE {column} = ?", (value,)))
    rows = sql.execute(f"SELECT * FROM events WHERE {column} = ? ORDER BY occurred_at, source, position"
                       f" LIMIT ? OFFSET ?", (value, limit, offset)).fetchall()
    return total, [{k: r[k] for k in EVENT_COLUMNS} | {"payload": json.loads(r["payload"])} for r in rows]
