"""Builders of valid integration events for tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from shared.contracts import event_id_for, make_envelope
from shared.contracts import meetings as mt
from shared.contracts import members as mb
from shared.contracts.base import Payload

NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


class Source:
    """A fake source's log: builds envelopes with consecutive positions, as a relay would publish them."""

    def __init__(self, name: str, start: int = 0):
        self.name = name
        self.position = start
        self.log: list[dict[str, Any]] = []

    def emit(self, payload: Payload, org_path: list[str] | None = None, hole: int = 0) -> dict[str, Any]:
        """Append an event; `hole` skips that many positions first (unpublished events)."""
        previous = self.position
        self.position += 1 + hole
        stream = uuid.uuid4()
        env = make_envelope(
            payload, event_id=event_id_for(self.name, stream, 1), source=self.name, position=self.position,
            previous_position=previous, stream_id=stream, stream_version=1, occurred_at=NOW, recorded_at=NOW,
            recorded_by="tester", org_path=org_path or [], correlation_id="test",
        )
        data = env.to_json()
        self.log.append(data)
        return data

    def fetch_range(self, source: str, after: int, before: int) -> list[dict[str, Any]]:
        """The notification API of this fake source (items without previous_position, as served)."""
        assert source == self.name
        return [dict(e, previous_position=None) for e in self.log if after < e["position"] < before]


def unit(kind: str = "cell", parent: uuid.UUID | None = None, code: str | None = None) -> mb.OrgUnitCreated:
    return mb.OrgUnitCreated(unit_id=uuid.uuid4(), kind=kind, name=f"{kind} {code or ''}".strip(),
                             code=code or uuid.uuid4().hex[:6], parent_id=parent,
                             block="residential" if kind == "cell" else None, effective_from=dt.date(2020, 1, 1))


def ward_with_two_cells(src: Source) -> tuple[mb.OrgUnitCreated, mb.OrgUnitCreated, mb.OrgUnitCreated,
                                               list[dict[str, Any]]]:
    """A ward and two cells under it, and their events (with org paths) from `src`."""
    ward = unit("ward", code="W")
    cell = unit("cell", parent=ward.unit_id, code="C1")
    other = unit("cell", parent=ward.unit_id, code="C2")
    events = [src.emit(ward, [str(ward.unit_id)]), src.emit(cell, [str(ward.unit_id), str(cell.unit_id)]),
              src.emit(other, [str(ward.unit_id), str(other.unit_id)])]
    return ward, cell, other, events


def admitted(cell: uuid.UUID, name: str = "Nguyễn Văn A", official: bool = True) -> mb.MemberAdmitted:
    return mb.MemberAdmitted(member_id=uuid.uuid4(), code=uuid.uuid4().hex[:8], full_name=name, cell_id=cell,
                             admitted_on=dt.date(2020, 2, 1), status="official" if official else "probationary",
                             official_since=dt.date(2021, 3, 1) if official else None)


def held(cell: uuid.UUID, roster: list[tuple[uuid.UUID, str]], day: dt.date = dt.date(2026, 1, 10),
         kind: str = "regular") -> mt.MeetingHeld:
    start = dt.datetime.combine(day, dt.time(19, 0), tzinfo=dt.UTC)
    return mt.MeetingHeld(
        meeting_id=uuid.uuid4(), cell_id=cell, kind=kind, topic="Chuyên đề" if kind != "regular" else None,
        date=day, started_at=start, ended_at=start + dt.timedelta(minutes=120), place="",
        roster=[mt.RosterEntry(member_id=m, full_name="X", status=s) for m, s in roster], policy_version="2021.1",
    )
