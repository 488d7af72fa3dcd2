"""A small world for reporting tests: builds members and meetings events and applies them to a store.

Every figure a test expects is computed by hand from what the test sends, not by the code under test.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from services.reporting.compliance import projection, schema
from services.reporting.queries import Queries
from shared.clock import VIETNAM
from shared.contracts import meetings as mt
from shared.contracts import members as mb
from shared.contracts import parse_event
from shared.stores import TrackedStore
from tests.factories import Source

FULL = ["opening", "news_and_policy", "review_and_follow_up", "ho_chi_minh_study", "discussion",
        "praise_and_criticism", "next_month_tasks", "conclusion_and_vote", "minutes_read"]


class World:
    def __init__(self, settings: Any, today: dt.date = dt.date(2025, 4, 15)):
        self.store = TrackedStore(settings, "reporting")
        self.store.create_tables(schema.DDL)
        self.members, self.meetings = Source("members"), Source("meetings")
        self.today = today
        self.codes: dict[str, str] = {}  # unit code -> id
        self.names: dict[str, str] = {}  # member id -> full name

    def apply(self, data: dict[str, Any]) -> None:
        env, payload = parse_event(data)
        with self.store.tracked(env.source, env.position) as sql:
            projection.project(sql, env, payload)

    def member_event(self, payload: Any) -> None:
        self.apply(self.members.emit(payload))

    def meeting_event(self, payload: Any) -> None:
        self.apply(self.meetings.emit(payload))

    # -- the register ----------------------------------------------------------------------------------
    def unit(self, code: str, kind: str, parent: str | None = None, block: str | None = None,
             since: dt.date = dt.date(2020, 1, 1), name: str | None = None) -> str:
        uid = uuid.uuid4()
        self.member_event(mb.OrgUnitCreated(unit_id=uid, kind=kind, name=name or f"{kind} {code}", code=code,
                                            parent_id=uuid.UUID(self.codes[parent]) if parent else None,
                                            block=block, effective_from=since))
        self.codes[code] = str(uid)
        return str(uid)

    def admit(self, cell: str, n: int = 1, official: bool = True, name: str = "Nguyễn Văn A") -> list[str]:
        ids = []
        for _ in range(n):
            mid = uuid.uuid4()
            self.member_event(mb.MemberAdmitted(
                member_id=mid, code=mid.hex[:8], full_name=name, cell_id=uuid.UUID(self.codes[cell]),
                admitted_on=dt.date(2020, 2, 1), status="official" if official else "probationary",
                official_since=dt.date(2021, 2, 1) if official else None))
            ids.append(str(mid))
            self.names[str(mid)] = name
        return ids

    def move(self, code: str, parent: str, day: dt.date) -> None:
        self.member_event(mb.OrgUnitMoved(unit_id=uuid.UUID(self.codes[code]), old_parent_id=None,
                                          new_parent_id=uuid.UUID(self.codes[parent]), effective_from=day))

    def merge(self, sources: list[str], target: str, day: dt.date) -> None:
        self.member_event(mb.CellsMerged(source_ids=[uuid.UUID(self.codes[s]) for s in sources],
                                         target_id=uuid.UUID(self.codes[target]), effective_from=day))

    def supervise(self, supervisor: str, cell: str, day: dt.date = dt.date(2024, 1, 1)) -> None:
        self.member_event(mb.SupervisorAssigned(supervisor_id=uuid.UUID(supervisor),
                                                cell_id=uuid.UUID(self.codes[cell]), effective_from=day))

    # -- meetings ----------------------------------------------------------------------------------------
    def meeting(self, cell: str, day: dt.date, roster: dict[str, str], *, kind: str = "regular",
                minutes: int = 120, absent: dict[str, bool] | None = None, steps: list[str] | None = None,
                spoke: list[str] = (), guests: dict[str, bool] | None = None,
                official: dict[str, bool] | None = None) -> str:
        """`roster`: member -> status; everyone is present except those in `absent` (member -> excused)."""
        mid, cell_id = uuid.uuid4(), uuid.UUID(self.codes[cell])
        start = dt.datetime.combine(day, dt.time(19, 0), tzinfo=VIETNAM)
        official = official or {}
        self.meeting_event(mt.MeetingHeld(
            meeting_id=mid, cell_id=cell_id, kind=kind, topic=None if kind == "regular" else "Chuyên đề", date=day,
            started_at=start, ended_at=start + dt.timedelta(minutes=minutes), policy_version="2021.1",
            roster=[mt.RosterEntry(member_id=uuid.UUID(m), full_name=self.names.get(m, f"Người {m[:4]}"), status=s,
                                   official=official.get(m, s == "official")) for m, s in roster.items()]))
        absent = absent or {}
        for m, status in roster.items():
            if m in absent:
                self.meeting_event(mt.MemberAbsent(meeting_id=mid, cell_id=cell_id, member_id=uuid.UUID(m),
                                                   status=status, excused=absent[m], reason="ốm" if absent[m] else ""))
            else:
                self.meeting_event(mt.MemberAttended(meeting_id=mid, cell_id=cell_id, member_id=uuid.UUID(m),
                                                     status=status))
        for step in FULL if steps is None and kind != "thematic" else (steps or []):
            self.meeting_event(mt.AgendaStepCovered(meeting_id=mid, cell_id=cell_id, step=step))
        for m in spoke:
            self.meeting_event(mt.MemberSpoke(meeting_id=mid, cell_id=cell_id, member_id=uuid.UUID(m), gist="ý kiến"))
        for g, assigned in (guests or {}).items():
            self.meeting_event(mt.GuestAttended(meeting_id=mid, cell_id=cell_id, guest_id=uuid.UUID(g),
                                                full_name="Khách", is_assigned_supervisor=assigned))
        return str(mid)

    def resolution(self, meeting: str, cell: str, voters: int = 3, base: int = 4) -> str:
        rid = uuid.uuid4()
        self.meeting_event(mt.ResolutionPassed(
            meeting_id=uuid.UUID(meeting), cell_id=uuid.UUID(self.codes[cell]), resolution_id=rid, kind="ordinary",
            text="Nghị quyết", votes_for=voters, votes_against=0, abstentions=0, voting_base=base,
            eligible_voters=[], threshold=">1/2"))
        return str(rid)

    def review(self, meeting: str, cell: str, resolution: str) -> None:
        self.meeting_event(mt.ResolutionReviewed(meeting_id=uuid.UUID(meeting), cell_id=uuid.UUID(self.codes[cell]),
                                                 resolution_id=uuid.UUID(resolution), outcome="implemented"))

    def dues(self, meeting: str, cell: str, member: str, month: str, paid: bool) -> None:
        self.meeting_event(mt.DuesCollected(meeting_id=uuid.UUID(meeting), cell_id=uuid.UUID(self.codes[cell]),
                                            member_id=uuid.UUID(member), month=month, paid=paid))

    # -- queries -----------------------------------------------------------------------------------------
    def query(self, name: str, *args: Any, **params: str) -> Any:
        with self.store.read() as sql:
            method = getattr(Queries(sql, self.today), name)
            return method(*args) if name == "meeting" else method(*args, params)

    def rollup(self, unit: str | None = None, period: str = "2025-Q1", **params: str) -> dict[str, Any]:
        if unit is not None:
            params["unit"] = self.codes.get(unit, unit)
        params.setdefault("by", "none")
        return self.query("rollup", period=period, **params)

    def figures(self, unit: str | None = None, period: str = "2025-Q1", **params: str) -> dict[str, Any]:
        return self.rollup(unit, period, **params)["figures"]
