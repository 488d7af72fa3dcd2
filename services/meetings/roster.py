"""The roster replica: the organisation units and memberships the meetings service needs, built from the
members service's events by a tracked consumer. Queries answer "who was in this cell, with what status,
on this date" without calling the members service.

Dated validity: every period is [valid_from, valid_to), valid_to being the effective date of the change that
ends it (NULL: still open). A temporary transfer's `until` is the day the member is back home (the members
service's contract: the spell is [effective_from, until)).

- MemberAdmitted opens a home stay in the cell; MemberTransferred(official) ends it and opens one in the
  to-cell; MemberRemoved ends it. MemberOfficialized sets the date from which the member is official.
- MemberTransferred(temporary) opens a temporary stay: on the home cell's roster the member is
  `temporarily_elsewhere` in that period (outside the attendance base); on the host cell the member is a
  *temporary participant* (listed, may attend and speak, outside the host's attendance and voting bases).
  MemberTemporaryTransferEnded ends it early.
- MemberExempted / MemberExemptionLifted: status `exempted` in the period.
- SupervisorAssigned / Unassigned: the committee members summoned as guests of the cell's meetings.
- OrgUnitRenamed / OrgUnitMoved update the unit (and, for a move, the org path of the unit and its subtree);
  CellsMerged and CellDissolved end the source cells from the date (members move by their own
  MemberTransferred events, which the members service emits for a merge).
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
    # one row per stay of a member in a cell (home stays; official transfers close one and open the next)
    "CREATE TABLE IF NOT EXISTS roster_memberships ("
    " member_id TEXT NOT NULL, cell_id TEXT NOT NULL, code TEXT NOT NULL, full_name TEXT NOT NULL,"
    " valid_from TEXT NOT NULL, valid_to TEXT, official_since TEXT,"
    " PRIMARY KEY (member_id, valid_from))",
    "CREATE INDEX IF NOT EXISTS roster_memberships_cell ON roster_memberships (cell_id)",
    "CREATE TABLE IF NOT EXISTS roster_unit_ends ("
    " unit_id TEXT PRIMARY KEY, ended_on TEXT NOT NULL, merged_into TEXT)",
    "CREATE TABLE IF NOT EXISTS roster_temporary ("
    " member_id TEXT NOT NULL, home_cell_id TEXT NOT NULL, host_cell_id TEXT NOT NULL,"
    " valid_from TEXT NOT NULL, valid_to TEXT, PRIMARY KEY (member_id, valid_from))",
    "CREATE INDEX IF NOT EXISTS roster_temporary_host ON roster_temporary (host_cell_id)",
    "CREATE TABLE IF NOT EXISTS roster_exemptions ("
    " member_id TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT, PRIMARY KEY (member_id, valid_from))",
    "CREATE TABLE IF NOT EXISTS roster_supervisors ("
    " supervisor_id TEXT NOT NULL, cell_id TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT,"
    " PRIMARY KEY (supervisor_id, cell_id, valid_from))",
)


def _close(sql: Sql, table: str, where: str, params: tuple[Any, ...], on: dt.date) -> None:
    """End the open period(s) matching `where` on `on` (periods starting later are left alone)."""
    sql.execute(f"UPDATE {table} SET valid_to = ? WHERE {where} AND valid_to IS NULL AND valid_from <= ?",
                (on.isoformat(), *params, on.isoformat()))


def _home_row(sql: Sql, member_id: str) -> Any:
    return sql.execute("SELECT * FROM roster_memberships WHERE member_id = ? ORDER BY valid_from DESC",
                       (member_id,)).fetchone()


def _retree(sql: Sql, unit_id: str, new_parent: str) -> None:
    """A unit moved: its org path and its subtree's become the new parent's path + the rest."""
    parent = sql.execute("SELECT org_path FROM roster_units WHERE unit_id = ?", (new_parent,)).fetchone()
    row = sql.execute("SELECT org_path FROM roster_units WHERE unit_id = ?", (unit_id,)).fetchone()
    if row is None:
        return
    old_path = json.loads(row["org_path"])
    new_path = (json.loads(parent["org_path"]) if parent else [new_parent]) + [unit_id]
    cut = len(old_path)
    for r in sql.execute("SELECT unit_id, org_path FROM roster_units").fetchall():
        path = json.loads(r["org_path"])
        if path[:cut] == old_path:
            sql.execute("UPDATE roster_units SET org_path = ? WHERE unit_id = ?",
                        (json.dumps(new_path + path[cut:]), r["unit_id"]))
    sql.execute("UPDATE roster_units SET parent_id = ? WHERE unit_id = ?", (new_parent, unit_id))


def project(sql: Sql, envelope: Envelope, payload: Payload) -> None:
    """Apply one members event to the replica (called inside the tracked transaction)."""
    p: Any = payload
    if isinstance(p, m.OrgUnitCreated):
        sql.execute(
            "INSERT INTO roster_units (unit_id, kind, name, code, parent_id, block, effective_from, org_path)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (str(p.unit_id), p.kind, p.name, p.code, str(p.parent_id) if p.parent_id else None, p.block,
             p.effective_from.isoformat(), json.dumps(envelope.org_path)),
        )
    elif isinstance(p, m.OrgUnitRenamed):
        sql.execute("UPDATE roster_units SET name = ? WHERE unit_id = ?", (p.new_name, str(p.unit_id)))
    elif isinstance(p, m.OrgUnitMoved):
        _retree(sql, str(p.unit_id), str(p.new_parent_id))
    elif isinstance(p, m.CellsMerged):
        for source in p.source_ids:
            if source != p.target_id:
                _end_unit(sql, str(source), p.effective_from, str(p.target_id))
    elif isinstance(p, m.CellDissolved):
        _end_unit(sql, str(p.unit_id), p.effective_from, None)
    elif isinstance(p, m.MemberAdmitted):
        sql.execute(
            "INSERT INTO roster_memberships (member_id, cell_id, code, full_name, valid_from, valid_to,"
            " official_since) VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (str(p.member_id), str(p.cell_id), p.code, p.full_name, p.admitted_on.isoformat(),
             p.official_since.isoformat() if p.official_since else None),
        )
    elif isinstance(p, m.MemberOfficialized):
        sql.execute("UPDATE roster_memberships SET official_since = ? WHERE member_id = ?",
                    (p.official_since.isoformat(), str(p.member_id)))
    elif isinstance(p, m.MemberTransferred):
        member = str(p.member_id)
        if p.kind == "official":
            row = _home_row(sql, member)
            _close(sql, "roster_memberships", "member_id = ?", (member,), p.effective_from)
            if row is not None:
                sql.execute(
                    "INSERT INTO roster_memberships (member_id, cell_id, code, full_name, valid_from, valid_to,"
                    " official_since) VALUES (?, ?, ?, ?, ?, NULL, ?)",
                    (member, str(p.to_cell_id), row["code"], row["full_name"], p.effective_from.isoformat(),
                     row["official_since"]),
                )
        else:
            until = p.until.isoformat() if p.until else None
            sql.execute(
                "INSERT INTO roster_temporary (member_id, home_cell_id, host_cell_id, valid_from, valid_to)"
                " VALUES (?, ?, ?, ?, ?)",
                (member, str(p.from_cell_id), str(p.to_cell_id), p.effective_from.isoformat(), until),
            )
    elif isinstance(p, m.MemberTemporaryTransferEnded):
        sql.execute(
            "UPDATE roster_temporary SET valid_to = ? WHERE member_id = ? AND host_cell_id = ? AND valid_from <= ?"
            " AND (valid_to IS NULL OR valid_to > ?)",
            (p.effective_from.isoformat(), str(p.member_id), str(p.host_cell_id), p.effective_from.isoformat(),
             p.effective_from.isoformat()),
        )
    elif isinstance(p, m.MemberExempted):
        sql.execute("INSERT INTO roster_exemptions (member_id, valid_from, valid_to) VALUES (?, ?, NULL)",
                    (str(p.member_id), p.effective_from.isoformat()))
    elif isinstance(p, m.MemberExemptionLifted):
        _close(sql, "roster_exemptions", "member_id = ?", (str(p.member_id),), p.effective_from)
    elif isinstance(p, m.MemberRemoved):
        _close(sql, "roster_memberships", "member_id = ?", (str(p.member_id),), p.effective_from)
        _close(sql, "roster_temporary", "member_id = ?", (str(p.member_id),), p.effective_from)
    elif isinstance(p, m.SupervisorAssigned):
        sql.execute("INSERT INTO roster_supervisors (supervisor_id, cell_id, valid_from, valid_to)"
                    " VALUES (?, ?, ?, NULL)", (str(p.supervisor_id), str(p.cell_id), p.effective_from.isoformat()))
    elif isinstance(p, m.SupervisorUnassigned):
        _close(sql, "roster_supervisors", "supervisor_id = ? AND cell_id = ?", (str(p.supervisor_id), str(p.cell_id)),
               p.effective_from)


def _end_unit(sql: Sql, unit_id: str, on: dt.date, merged_into: str | None) -> None:
    sql.execute("DELETE FROM roster_unit_ends WHERE unit_id = ?", (unit_id,))
    sql.execute("INSERT INTO roster_unit_ends (unit_id, ended_on, merged_into) VALUES (?, ?, ?)",
                (unit_id, on.isoformat(), merged_into))


@dataclass(frozen=True)
class CellInfo:
    unit_id: str
    kind: str
    name: str
    effective_from: dt.date
    org_path: list[str]
    ended_on: dt.date | None = None  # merged or dissolved from this date
    merged_into: str | None = None


@dataclass(frozen=True)
class RosterMember:
    member_id: str
    full_name: str
    status: str  # official | probationary | exempted | temporarily_elsewhere (as of the date asked)
    official: bool = False  # official (not probationary) on the date, whatever the status


@dataclass(frozen=True)
class Supervisor:
    supervisor_id: str
    full_name: str


def _home_status(official_since: str | None, iso: str) -> str:
    return "official" if official_since is not None and official_since <= iso else "probationary"


class RosterReader:
    def __init__(self, store: TrackedStore):
        self.store = store

    def unit(self, unit_id: str) -> CellInfo | None:
        with self.store.read() as sql:
            row = sql.execute("SELECT * FROM roster_units WHERE unit_id = ?", (unit_id,)).fetchone()
            end = sql.execute("SELECT * FROM roster_unit_ends WHERE unit_id = ?", (unit_id,)).fetchone()
        if row is None:
            return None
        return CellInfo(row["unit_id"], row["kind"], row["name"], dt.date.fromisoformat(row["effective_from"]),
                        json.loads(row["org_path"]),
                        dt.date.fromisoformat(end["ended_on"]) if end else None,
                        end["merged_into"] if end else None)

    def path(self, unit_id: str) -> list[str] | None:
        """The unit's path from the root now (what access checks need), in one statement; None when unknown."""
        row = self.store.first("SELECT org_path FROM roster_units WHERE unit_id = ?", (unit_id,))
        return json.loads(row["org_path"]) if row is not None else None

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
            away = {r["member_id"] for r in sql.execute(
                "SELECT member_id FROM roster_temporary WHERE home_cell_id = ? AND valid_from <= ?"
                " AND (valid_to IS NULL OR valid_to > ?)", (cell_id, iso, iso)).fetchall()}
            exempt = {r["member_id"] for r in sql.execute(
                "SELECT member_id FROM roster_exemptions WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)",
                (iso, iso)).fetchall()}

        def status(r: Any) -> str:
            if r["member_id"] in away:
                return "temporarily_elsewhere"
            if r["member_id"] in exempt:
                return "exempted"
            return _home_status(r["official_since"], iso)

        return [RosterMember(r["member_id"], r["full_name"], status(r),
                             _home_status(r["official_since"], iso) == "official") for r in rows]

    def temporary_participants(self, cell_id: str, day: dt.date) -> list[RosterMember]:
        """Members of other cells active in this cell on `day` (sinh hoạt tạm thời), with their home status."""
        iso = day.isoformat()
        with self.store.read() as sql:
            rows = sql.execute(
                "SELECT t.member_id, m.full_name, m.official_since FROM roster_temporary t"
                " JOIN roster_memberships m ON m.member_id = t.member_id AND m.valid_from <= ?"
                " AND (m.valid_to IS NULL OR m.valid_to > ?)"
                " WHERE t.host_cell_id = ? AND t.valid_from <= ? AND (t.valid_to IS NULL OR t.valid_to > ?)"
                " ORDER BY m.full_name, t.member_id",
                (iso, iso, cell_id, iso, iso),
            ).fetchall()
        return [RosterMember(r["member_id"], r["full_name"], _home_status(r["official_since"], iso),
                             _home_status(r["official_since"], iso) == "official") for r in rows]

    def supervisors_on(self, cell_id: str, day: dt.date) -> list[Supervisor]:
        """Committee members assigned to the cell on `day` (summoned as guests)."""
        iso = day.isoformat()
        with self.store.read() as sql:
            rows = sql.execute(
                "SELECT s.supervisor_id, (SELECT full_name FROM roster_memberships m WHERE m.member_id ="
                " s.supervisor_id ORDER BY valid_from DESC LIMIT 1) AS full_name FROM roster_supervisors s"
                " WHERE s.cell_id = ? AND s.valid_from <= ? AND (s.valid_to IS NULL OR s.valid_to > ?)"
                " ORDER BY s.supervisor_id",
                (cell_id, iso, iso),
            ).fetchall()
        return [Supervisor(r["supervisor_id"], r["full_name"] or "") for r in rows]

    def full_name(self, member_id: str) -> str | None:
        with self.store.read() as sql:
            row = sql.execute("SELECT full_name FROM roster_memberships WHERE member_id = ? ORDER BY valid_from DESC",
                              (member_id,)).fetchone()
        return row["full_name"] if row else None

    def position(self) -> dict[str, Any]:
        return {"members": self.store.position("members")}
