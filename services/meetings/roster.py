"""The roster replica: the organisation units and memberships the meetings service needs, built from the
members service's events by a tracked consumer. Queries answer "who was in this cell, with what status,
on this date" without calling the members service.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from shared.contracts import Envelope, Payload
from shared.contracts import members as m
from shared.stores import Sql, TrackedStore

DDL = (
    "CREATE TABLE IF NOT EXISTS roster_units ("
    " unit_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, code TEXT NOT NULL,"
    " parent_id TEXT, block TEXT, effective_from TEXT NOT NULL, org_path TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS roster_memberships ("
    " member_id TEXT NOT NULL, cell_id TEXT NOT NULL, code TEXT NOT NULL, full_name TEXT NOT NULL,"
    " valid_from TEXT NOT NULL, valid_to TEXT, official_since TEXT,"
    " PRIMARY KEY (member_id, valid_from))",
    "CREATE INDEX IF NOT EXISTS roster_memberships_cell ON roster_memberships (cell_id)",
)


def project(sql: Sql, envelope: Envelope, payload: Payload) -> None:
    """Apply one members event to the replica (called inside the tracked transaction)."""
    if isinstance(payload, m.OrgUnitCreated):
        sql.execute(
            "INSERT INTO roster_units (unit_id, kind, name, code, parent_id, block, effective_from, org_path)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (str(payload.unit_id), payload.kind, payload.name, payload.code,
             str(payload.parent_id) if payload.parent_id else None, payload.block,
             payload.effective_from.isoformat(), json.dumps(envelope.org_path)),
        )
    elif isinstance(payload, m.MemberAdmitted):
        sql.execute(
            "INSERT INTO roster_memberships (member_id, cell_id, code, full_name, valid_from, valid_to,"
            " official_since) VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (str(payload.member_id), str(payload.cell_id), payload.code, payload.full_name,
             payload.admitted_on.isoformat(),
             payload.official_since.isoformat() if payload.official_since else None),
        )
    # Other members events (transfers, exemptions, removals...) are applied once the members service
    # records them; until then they carry nothing this replica needs.


@dataclass(frozen=True)
class CellInfo:
    unit_id: str
    kind: str
    name: str
    effective_from: dt.date
    org_path: list[str]


@dataclass(frozen=True)
class RosterMember:
    member_id: str
    full_name: str
    status: str  # official | probationary (exempted, temporarily_elsewhere: with the full register)


class RosterReader:
    def __init__(self, store: TrackedStore):
        self.store = store

    def unit(self, unit_id: str) -> CellInfo | None:
        with self.store.read() as sql:
            row = sql.execute("SELECT * FROM roster_units WHERE unit_id = ?", (unit_id,)).fetchone()
        if row is None:
            return None
        return CellInfo(row["unit_id"], row["kind"], row["name"],
                        dt.date.fromisoformat(row["effective_from"]), json.loads(row["org_path"]))

    def roster_on(self, cell_id: str, day: dt.date) -> list[RosterMember]:
        """Members of the cell on `day`, each with their status on that day, ordered by name."""
        iso = day.isoformat()
        with self.store.read() as sql:
            rows = sql.execute(
                "SELECT member_id, full_name, official_since FROM roster_memberships"
                " WHERE cell_id = ? AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
                " ORDER BY full_name, member_id",
                (cell_id, iso, iso),
            ).fetchall()
        return [
            RosterMember(
                r["member_id"], r["full_name"],
                "official" if r["official_since"] is not None and r["official_since"] <= iso else "probationary",
            )
            for r in rows
        ]

    def position(self) -> dict[str, Any]:
        return {"members": self.store.position("members")}
