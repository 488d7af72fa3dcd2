"""Per cell and month: was a regular meeting held, and what was the attendance rate.

Attendance base (design.md §2): the summoned members minus those temporarily active elsewhere, minus
exempted members who were absent (an exempted member who attends counts in the base and as present).
Attendance rate = present / base, over the cell's meetings of the month.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

from shared.contracts import Envelope, Payload
from shared.contracts import meetings as mt
from shared.contracts import members as mb
from shared.stores import Sql

DDL = (
    "CREATE TABLE IF NOT EXISTS units ("
    " unit_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, code TEXT NOT NULL,"
    " parent_id TEXT, block TEXT, org_path TEXT NOT NULL, effective_from TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meetings ("
    " meeting_id TEXT PRIMARY KEY, cell_id TEXT NOT NULL, kind TEXT NOT NULL, date TEXT NOT NULL,"
    " month TEXT NOT NULL, minutes INTEGER NOT NULL, policy_version TEXT NOT NULL,"
    " recorded_by TEXT NOT NULL, source_position BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS meetings_cell_month ON meetings (cell_id, month)",
    "CREATE TABLE IF NOT EXISTS meeting_roster ("
    " meeting_id TEXT NOT NULL, member_id TEXT NOT NULL, status TEXT NOT NULL,"
    " outcome TEXT NOT NULL DEFAULT 'pending',"  # pending | present | absent_excused | absent_unexcused
    " PRIMARY KEY (meeting_id, member_id))",
)

REGULAR_KINDS = ("regular", "combined")


class ProjectionError(ValueError):
    """The event contradicts what this projection knows (for example attendance at an unknown meeting)."""


def project(sql: Sql, envelope: Envelope, payload: Payload) -> None:
    if isinstance(payload, mb.OrgUnitCreated):
        sql.execute(
            "INSERT INTO units (unit_id, kind, name, code, parent_id, block, org_path, effective_from)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (str(payload.unit_id), payload.kind, payload.name, payload.code,
             str(payload.parent_id) if payload.parent_id else None, payload.block,
             json.dumps(envelope.org_path), payload.effective_from.isoformat()),
        )
    elif isinstance(payload, mt.MeetingHeld):
        minutes = int((payload.ended_at - payload.started_at).total_seconds() // 60)
        sql.execute(
            "INSERT INTO meetings (meeting_id, cell_id, kind, date, month, minutes, policy_version,"
            " recorded_by, source_position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(payload.meeting_id), str(payload.cell_id), payload.kind, payload.date.isoformat(),
             payload.date.strftime("%Y-%m"), minutes, payload.policy_version, envelope.recorded_by,
             envelope.position),
        )
        for entry in payload.roster:
            sql.execute(
                "INSERT INTO meeting_roster (meeting_id, member_id, status) VALUES (?, ?, ?)",
                (str(payload.meeting_id), str(entry.member_id), entry.status),
            )
    elif isinstance(payload, mt.MemberAttended | mt.MemberAbsent):
        if isinstance(payload, mt.MemberAttended):
            outcome = "present"
        else:
            outcome = "absent_excused" if payload.excused else "absent_unexcused"
        updated = sql.execute(
            "UPDATE meeting_roster SET outcome = ? WHERE meeting_id = ? AND member_id = ?",
            (outcome, str(payload.meeting_id), str(payload.member_id)),
        ).rowcount
        if updated != 1:
            raise ProjectionError(
                f"{envelope.type} for {payload.member_id}, who is not on the roster of meeting "
                f"{payload.meeting_id}"
            )
    elif isinstance(payload, mt.MeetingCorrected) and payload.path.startswith("attendance."):
        # A signed correction of a member's attendance (issue 4): the figures follow the corrected record.
        value = payload.new_value if isinstance(payload.new_value, dict) else {}
        if value.get("present"):
            outcome = "present"
        else:
            outcome = "absent_excused" if value.get("excused") else "absent_unexcused"
        sql.execute("UPDATE meeting_roster SET outcome = ? WHERE meeting_id = ? AND member_id = ?",
                    (outcome, str(payload.meeting_id), payload.path.removeprefix("attendance.")))


@dataclass(frozen=True)
class CellMonth:
    cell_id: str
    cell_code: str
    cell_name: str
    block: str | None
    month: str
    meetings: int
    regular_held: bool
    present: int
    attendance_base: int
    attendance_rate: float | None  # present / base, None when no meeting


def months_between(first: str, last: str) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def cell_months(sql: Sql, first: str, last: str, under: str | None = None) -> list[CellMonth]:
    """Every cell (under the unit `under`, if given) for every month from `first` to `last` (YYYY-MM)."""
    cells = sql.execute(
        "SELECT unit_id, code, name, block, org_path FROM units WHERE kind = 'cell' ORDER BY code"
    ).fetchall()
    if under is not None:
        cells = [c for c in cells if under in json.loads(c["org_path"])]
    stats: dict[tuple[str, str], dict[str, Any]] = {}
    rows = sql.execute(
        "SELECT m.cell_id, m.month, m.meeting_id, m.kind,"
        " SUM(CASE WHEN r.outcome = 'present' THEN 1 ELSE 0 END) AS present,"
        " SUM(CASE WHEN r.status = 'temporarily_elsewhere' THEN 0"
        "          WHEN r.status = 'exempted' AND r.outcome <> 'present' THEN 0 ELSE 1 END) AS base"
        " FROM meetings m JOIN meeting_roster r ON r.meeting_id = m.meeting_id"
        " WHERE m.month >= ? AND m.month <= ? GROUP BY m.cell_id, m.month, m.meeting_id, m.kind",
        (first, last),
    ).fetchall()
    for r in rows:
        s = stats.setdefault((r["cell_id"], r["month"]), {"meetings": 0, "regular": False, "present": 0, "base": 0})
        s["meetings"] += 1
        s["regular"] = s["regular"] or r["kind"] in REGULAR_KINDS
        s["present"] += int(r["present"])
        s["base"] += int(r["base"])
    out = []
    for c in cells:
        for month in months_between(first, last):
            s = stats.get((c["unit_id"], month), {"meetings": 0, "regular": False, "present": 0, "base": 0})
            out.append(CellMonth(
                cell_id=c["unit_id"], cell_code=c["code"], cell_name=c["name"], block=c["block"], month=month,
                meetings=s["meetings"], regular_held=s["regular"], present=s["present"],
                attendance_base=s["base"],
                attendance_rate=round(s["present"] / s["base"], 4) if s["base"] else None,
            ))
    return out


def as_json(rows: list[CellMonth]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def parse_month(field: str, raw: str | None, default: str) -> str:
    from shared.errors import DomainError

    value = raw or default
    try:
        day = dt.date.fromisoformat(value + "-01")
    except ValueError:
        raise DomainError(field, f"must be a month as YYYY-MM, not {value!r}", rule="period.format",
                          vi=f"phải là tháng dạng YYYY-MM, không phải {value!r}") from None
    return day.strftime("%Y-%m")
