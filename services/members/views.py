"""The members service's own read model: the tree, the register and the supervision, by date.

Built from the service's own notification log, as integration events (the translated envelopes the relay
publishes), so the projection is the one any consumer of `members.events` could run. It is brought up to
date synchronously at the start of every query (catch-up-on-read): a client always reads its own writes, and
when nothing is new it costs one position lookup and one empty select.

Each catch-up batch is applied in one transaction with its tracked position, so it is applied exactly once
even when two processes share the database (the loser of the race sees AlreadyApplied and rereads).
Dates are ISO text: they compare correctly as strings on both databases. Spells are [valid_from, valid_to).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from shared.contracts import Envelope, Payload, parse_event
from shared.contracts import members as m
from shared.relay import EnvelopeReader
from shared.stores import AlreadyApplied, Sql, TrackedStore

SOURCE = "members"

DDL = (
    "CREATE TABLE IF NOT EXISTS mv_units (unit_id TEXT PRIMARY KEY, kind TEXT NOT NULL, code TEXT NOT NULL,"
    " block TEXT, effective_from TEXT NOT NULL, ended_on TEXT, end_reason TEXT, merged_into TEXT)",
    "CREATE TABLE IF NOT EXISTS mv_unit_names (unit_id TEXT NOT NULL, valid_from TEXT NOT NULL,"
    " name TEXT NOT NULL, seq BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mv_unit_parents (unit_id TEXT NOT NULL, valid_from TEXT NOT NULL,"
    " parent_id TEXT, seq BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS mv_unit_parents_unit ON mv_unit_parents (unit_id)",
    "CREATE INDEX IF NOT EXISTS mv_unit_parents_parent ON mv_unit_parents (parent_id)",
    "CREATE TABLE IF NOT EXISTS mv_members (member_id TEXT PRIMARY KEY, code TEXT NOT NULL,"
    " full_name TEXT NOT NULL, admitted_on TEXT NOT NULL, official_since TEXT, removed_on TEXT,"
    " removal_reason TEXT)",
    "CREATE TABLE IF NOT EXISTS mv_memberships (member_id TEXT NOT NULL, cell_id TEXT NOT NULL,"
    " valid_from TEXT NOT NULL, valid_to TEXT, seq BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS mv_memberships_cell ON mv_memberships (cell_id)",
    "CREATE INDEX IF NOT EXISTS mv_memberships_member ON mv_memberships (member_id)",
    "CREATE TABLE IF NOT EXISTS mv_temporaries (member_id TEXT NOT NULL, home_cell_id TEXT NOT NULL,"
    " host_cell_id TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT NOT NULL, seq BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS mv_temporaries_member ON mv_temporaries (member_id)",
    "CREATE TABLE IF NOT EXISTS mv_exemptions (member_id TEXT NOT NULL, reason TEXT NOT NULL,"
    " valid_from TEXT NOT NULL, valid_to TEXT, seq BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS mv_exemptions_member ON mv_exemptions (member_id)",
    "CREATE TABLE IF NOT EXISTS mv_supervisions (supervisor_id TEXT NOT NULL, cell_id TEXT NOT NULL,"
    " valid_from TEXT NOT NULL, valid_to TEXT, seq BIGINT NOT NULL)",
)


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def project(sql: Sql, envelope: Envelope, payload: Payload) -> None:
    """Apply one members integration event to the read model."""
    seq = envelope.position
    if isinstance(payload, m.OrgUnitCreated):
        day = _iso(payload.effective_from)
        sql.execute("INSERT INTO mv_units (unit_id, kind, code, block, effective_from) VALUES (?, ?, ?, ?, ?)",
                    (str(payload.unit_id), payload.kind, payload.code, payload.block, day))
        sql.execute("INSERT INTO mv_unit_names VALUES (?, ?, ?, ?)", (str(payload.unit_id), day, payload.name, seq))
        sql.execute("INSERT INTO mv_unit_parents VALUES (?, ?, ?, ?)",
                    (str(payload.unit_id), day, _s(payload.parent_id), seq))
    elif isinstance(payload, m.OrgUnitRenamed):
        sql.execute("INSERT INTO mv_unit_names VALUES (?, ?, ?, ?)",
                    (str(payload.unit_id), _iso(payload.effective_from), payload.new_name, seq))
    elif isinstance(payload, m.OrgUnitMoved):
        sql.execute("INSERT INTO mv_unit_parents VALUES (?, ?, ?, ?)",
                    (str(payload.unit_id), _iso(payload.effective_from), str(payload.new_parent_id), seq))
    elif isinstance(payload, m.CellsMerged):
        for source in payload.source_ids:
            sql.execute("UPDATE mv_units SET ended_on = ?, end_reason = 'merged', merged_into = ? WHERE unit_id = ?",
                        (_iso(payload.effective_from), str(payload.target_id), str(source)))
    elif isinstance(payload, m.CellDissolved):
        sql.execute("UPDATE mv_units SET ended_on = ?, end_reason = 'dissolved' WHERE unit_id = ?",
                    (_iso(payload.effective_from), str(payload.unit_id)))
    elif isinstance(payload, m.MemberAdmitted):
        sql.execute("INSERT INTO mv_members (member_id, code, full_name, admitted_on, official_since)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (str(payload.member_id), payload.code, payload.full_name, _iso(payload.admitted_on),
                     _iso(payload.official_since)))
        sql.execute("INSERT INTO mv_memberships VALUES (?, ?, ?, NULL, ?)",
                    (str(payload.member_id), str(payload.cell_id), _iso(payload.admitted_on), seq))
    elif isinstance(payload, m.MemberOfficialized):
        sql.execute("UPDATE mv_members SET official_since = ? WHERE member_id = ?",
                    (_iso(payload.official_since), str(payload.member_id)))
    elif isinstance(payload, m.MemberTransferred):
        member, day = str(payload.member_id), _iso(payload.effective_from)
        if payload.kind == "official":
            sql.execute("UPDATE mv_memberships SET valid_to = ? WHERE member_id = ? AND valid_to IS NULL",
                        (day, member))
            sql.execute("INSERT INTO mv_memberships VALUES (?, ?, ?, NULL, ?)",
                        (member, str(payload.to_cell_id), day, seq))
        else:
            sql.execute("INSERT INTO mv_temporaries VALUES (?, ?, ?, ?, ?, ?)",
                        (member, str(payload.from_cell_id), str(payload.to_cell_id), day, _iso(payload.until), seq))
    elif isinstance(payload, m.MemberTemporaryTransferEnded):
        day = _iso(payload.effective_from)
        sql.execute("UPDATE mv_temporaries SET valid_to = ? WHERE member_id = ? AND host_cell_id = ?"
                    " AND valid_from < ? AND valid_to > ?",
                    (day, str(payload.member_id), str(payload.host_cell_id), day, day))
    elif isinstance(payload, m.MemberExempted):
        sql.execute("INSERT INTO mv_exemptions VALUES (?, ?, ?, NULL, ?)",
                    (str(payload.member_id), payload.reason, _iso(payload.effective_from), seq))
    elif isinstance(payload, m.MemberExemptionLifted):
        sql.execute("UPDATE mv_exemptions SET valid_to = ? WHERE member_id = ? AND valid_to IS NULL",
                    (_iso(payload.effective_from), str(payload.member_id)))
    elif isinstance(payload, m.MemberRemoved):
        member, day = str(payload.member_id), _iso(payload.effective_from)
        sql.execute("UPDATE mv_members SET removed_on = ?, removal_reason = ? WHERE member_id = ?",
                    (day, payload.reason, member))
        for table in ("mv_memberships", "mv_exemptions"):
            sql.execute(f"UPDATE {table} SET valid_to = ? WHERE member_id = ? AND valid_to IS NULL", (day, member))
        sql.execute("UPDATE mv_temporaries SET valid_to = ? WHERE member_id = ? AND valid_to > ?", (day, member, day))
    elif isinstance(payload, m.SupervisorAssigned):
        sql.execute("INSERT INTO mv_supervisions VALUES (?, ?, ?, NULL, ?)",
                    (str(payload.supervisor_id), str(payload.cell_id), _iso(payload.effective_from), seq))
    elif isinstance(payload, m.SupervisorUnassigned):
        sql.execute("UPDATE mv_supervisions SET valid_to = ? WHERE supervisor_id = ? AND cell_id = ?"
                    " AND valid_to IS NULL", (_iso(payload.effective_from), str(payload.supervisor_id),
                                              str(payload.cell_id)))


@dataclass
class UnitRecord:
    """A unit with its dated names and parents (in date order), as the read model holds it."""

    id: str
    kind: str
    code: str
    block: str | None
    effective_from: str
    ended_on: str | None
    end_reason: str | None
    merged_into: str | None
    names: list[tuple[str, str]] = field(default_factory=list)
    parents: list[tuple[str, str | None]] = field(default_factory=list)

    def exists_on(self, day: str) -> bool:
        return self.effective_from <= day and (self.ended_on is None or day < self.ended_on)

    def name_on(self, day: str) -> str:
        return _on(self.names, day) or self.names[0][1]

    def parent_on(self, day: str) -> str | None:
        return _on(self.parents, day)

    def on(self, day: str) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "code": self.code, "name": self.name_on(day),
                "parent_id": self.parent_on(day), "block": self.block, "effective_from": self.effective_from,
                "ended_on": self.ended_on, "end_reason": self.end_reason, "merged_into": self.merged_into}


def _on(timeline: list[tuple[str, Any]], day: str) -> Any:
    value = None
    for since, v in timeline:
        if since <= day:
            value = v
    return value


class MembersViews:
    """The read model and its queries. `catch_up()` first (the application's queries do)."""

    def __init__(self, store: TrackedStore, reader: EnvelopeReader, batch_size: int = 500):
        self.store = store
        self.reader = reader
        self.batch_size = batch_size
        self._lock = threading.Lock()  # eventlet's green lock in the services (monkey-patched)
        store.create_tables(DDL)

    def catch_up(self) -> int:
        """Apply what the notification log holds beyond the tracked position; return how many events."""
        applied = 0
        with self._lock:
            while True:
                after = self.store.position(SOURCE)
                batch, last = self.reader.read(after, self.batch_size)
                if not batch:
                    return applied
                try:
                    with self.store.tracked(SOURCE, last) as sql:
                        for _, envelope in batch:
                            if envelope is not None:
                                _, payload = parse_event(envelope.to_json())
                                project(sql, envelope, payload)
                                applied += 1
                except AlreadyApplied:  # another process applied this batch first: read on from there
                    continue

    # --- the tree ---------------------------------------------------------------------------------------

    def units(self) -> dict[str, UnitRecord]:
        with self.store.read() as sql:
            units = {r["unit_id"]: UnitRecord(r["unit_id"], r["kind"], r["code"], r["block"], r["effective_from"],
                                              r["ended_on"], r["end_reason"], r["merged_into"])
                     for r in sql.execute("SELECT * FROM mv_units").fetchall()}
            for r in sql.execute("SELECT * FROM mv_unit_names ORDER BY valid_from, seq").fetchall():
                units[r["unit_id"]].names.append((r["valid_from"], r["name"]))
            for r in sql.execute("SELECT * FROM mv_unit_parents ORDER BY valid_from, seq").fetchall():
                units[r["unit_id"]].parents.append((r["valid_from"], r["parent_id"]))
        return units

    def tree(self, day: dt.date, root: str | None = None) -> list[dict[str, Any]]:
        """The tree as it stood on `day`: nested units (each with `children`), from the roots or `root`."""
        iso = day.isoformat()
        units = {i: u for i, u in self.units().items() if u.exists_on(iso)}
        children: dict[str | None, list[str]] = defaultdict(list)
        for u in units.values():
            parent = u.parent_on(iso)
            children[parent if parent in units else None].append(u.id)

        def node(unit_id: str) -> dict[str, Any]:
            kids = sorted(children.get(unit_id, []), key=lambda i: (units[i].code, i))
            return {**units[unit_id].on(iso), "children": [node(k) for k in kids]}

        tops = [root] if root is not None else sorted(children[None], key=lambda i: (units[i].code, i))
        return [node(t) for t in tops if t in units]

    def under(self, unit_id: str, day: dt.date, all_depths: bool = False) -> list[dict[str, Any]]:
        """The units under `unit_id` on `day`: its children, or (all_depths) its whole subtree, with depth."""
        out: list[dict[str, Any]] = []

        def walk(nodes: list[dict[str, Any]], depth: int) -> None:
            for n in nodes:
                out.append({k: v for k, v in n.items() if k != "children"} | {"depth": depth})
                if all_depths:
                    walk(n["children"], depth + 1)

        for top in self.tree(day, root=unit_id):
            walk(top["children"], 1)
        return out

    def cells_under(self, unit_id: str | None, day: dt.date) -> list[dict[str, Any]]:
        if unit_id is None:
            iso = day.isoformat()
            return [u.on(iso) for u in self.units().values() if u.kind == "cell" and u.exists_on(iso)]
        return [u for u in self.under(unit_id, day, all_depths=True) if u["kind"] == "cell"]

    def open_children(self, unit_id: str) -> list[str]:
        """Units whose latest parent is `unit_id` and that have not ended (a merge moves them)."""
        with self.store.read() as sql:
            candidates = sql.execute(
                "SELECT DISTINCT p.unit_id FROM mv_unit_parents p JOIN mv_units u ON u.unit_id = p.unit_id"
                " WHERE p.parent_id = ? AND u.ended_on IS NULL ORDER BY p.unit_id", (unit_id,)).fetchall()
            children = []
            for row in candidates:
                latest = sql.execute("SELECT parent_id FROM mv_unit_parents WHERE unit_id = ?"
                                     " ORDER BY valid_from DESC, seq DESC LIMIT 1", (row["unit_id"],)).fetchone()
                if latest["parent_id"] == unit_id:
                    children.append(row["unit_id"])
        return children

    # --- the register -----------------------------------------------------------------------------------

    def members_from(self, cell_id: str, day: dt.date) -> list[str]:
        """Members whose home is `cell_id` on `day` or later (a merge or dissolution must account for them)."""
        with self.store.read() as sql:
            rows = sql.execute("SELECT DISTINCT member_id FROM mv_memberships WHERE cell_id = ?"
                               " AND (valid_to IS NULL OR valid_to > ?) ORDER BY member_id",
                               (cell_id, day.isoformat())).fetchall()
        return [r["member_id"] for r in rows]

    def hosted_from(self, cell_id: str, day: dt.date) -> list[str]:
        """Members temporarily active in `cell_id` on `day` or later."""
        with self.store.read() as sql:
            rows = sql.execute("SELECT DISTINCT member_id FROM mv_temporaries WHERE host_cell_id = ? AND valid_to > ?"
                               " ORDER BY member_id", (cell_id, day.isoformat())).fetchall()
        return [r["member_id"] for r in rows]

    def roster(self, cell_id: str, day: dt.date) -> list[dict[str, Any]]:
        """The cell's members on `day` with each one's status; members temporarily hosted here included.

        status: official | probationary | exempted | temporarily_elsewhere (home members), temporary (hosted).
        """
        iso = day.isoformat()
        with self.store.read() as sql:
            home = sql.execute(
                "SELECT s.member_id, m.code, m.full_name, m.official_since FROM mv_memberships s"
                " JOIN mv_members m ON m.member_id = s.member_id WHERE s.cell_id = ? AND s.valid_from <= ?"
                " AND (s.valid_to IS NULL OR s.valid_to > ?)", (cell_id, iso, iso)).fetchall()
            hosted = sql.execute(
                "SELECT t.member_id, t.home_cell_id, t.valid_to, m.code, m.full_name, m.official_since"
                " FROM mv_temporaries t JOIN mv_members m ON m.member_id = t.member_id"
                " WHERE t.host_cell_id = ? AND t.valid_from <= ? AND t.valid_to > ?", (cell_id, iso, iso)).fetchall()
            ids = [r["member_id"] for r in home]
            away = {r["member_id"]: r for r in self._spells(sql, "mv_temporaries", ids, iso)}
            exempted = {r["member_id"]: r for r in self._spells(sql, "mv_exemptions", ids, iso)}
        out = []
        for r in home:
            official = r["official_since"] is not None and r["official_since"] <= iso
            entry = {"member_id": r["member_id"], "code": r["code"], "full_name": r["full_name"],
                     "official": official, "exempted": r["member_id"] in exempted}
            if r["member_id"] in away:
                t = away[r["member_id"]]
                entry |= {"status": "temporarily_elsewhere", "host_cell_id": t["host_cell_id"], "until": t["valid_to"]}
            elif r["member_id"] in exempted:
                entry |= {"status": "exempted", "exemption_reason": exempted[r["member_id"]]["reason"]}
            else:
                entry |= {"status": "official" if official else "probationary"}
            out.append(entry)
        for r in hosted:
            official = r["official_since"] is not None and r["official_since"] <= iso
            out.append({"member_id": r["member_id"], "code": r["code"], "full_name": r["full_name"],
                        "official": official, "exempted": False, "status": "temporary",
                        "home_cell_id": r["home_cell_id"], "until": r["valid_to"]})
        return sorted(out, key=lambda e: (e["full_name"], e["member_id"]))

    @staticmethod
    def _spells(sql: Sql, table: str, member_ids: list[str], iso: str) -> list[Any]:
        if not member_ids:
            return []
        marks = ", ".join("?" for _ in member_ids)
        return sql.execute(f"SELECT * FROM {table} WHERE member_id IN ({marks}) AND valid_from <= ?"
                           " AND (valid_to IS NULL OR valid_to > ?)", (*member_ids, iso, iso)).fetchall()

    def official_counts(self, cell_ids: list[str], day: dt.date) -> dict[str, int]:
        """Official members (in the register of each cell, exempted or away included) on `day`."""
        iso = day.isoformat()
        counts = dict.fromkeys(cell_ids, 0)
        with self.store.read() as sql:
            rows = sql.execute(
                "SELECT s.cell_id, COUNT(*) AS n FROM mv_memberships s JOIN mv_members m ON m.member_id = s.member_id"
                " WHERE s.valid_from <= ? AND (s.valid_to IS NULL OR s.valid_to > ?)"
                " AND m.official_since IS NOT NULL AND m.official_since <= ? GROUP BY s.cell_id",
                (iso, iso, iso)).fetchall()
        for r in rows:
            if r["cell_id"] in counts:
                counts[r["cell_id"]] = int(r["n"])
        return counts

    def supervised_by(self, supervisor_id: str) -> list[str]:
        """The cells a member follows now (an open assignment)."""
        with self.store.read() as sql:
            rows = sql.execute("SELECT cell_id FROM mv_supervisions WHERE supervisor_id = ? AND valid_to IS NULL"
                               " ORDER BY cell_id", (supervisor_id,)).fetchall()
        return [r["cell_id"] for r in rows]

    def supervisors(self, cell_id: str, day: dt.date) -> list[dict[str, Any]]:
        iso = day.isoformat()
        with self.store.read() as sql:
            rows = sql.execute(
                "SELECT v.supervisor_id, v.valid_from, v.valid_to, m.code, m.full_name FROM mv_supervisions v"
                " JOIN mv_members m ON m.member_id = v.supervisor_id WHERE v.cell_id = ? AND v.valid_from <= ?"
                " AND (v.valid_to IS NULL OR v.valid_to > ?) ORDER BY m.full_name, v.supervisor_id",
                (cell_id, iso, iso)).fetchall()
        return [{"supervisor_id": r["supervisor_id"], "code": r["code"], "full_name": r["full_name"],
                 "since": r["valid_from"], "until": r["valid_to"]} for r in rows]
