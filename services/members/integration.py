"""Domain events of the members service -> integration events (shared.contracts.members)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.members.domain import Member, OrgUnit
from shared.contracts import members as c
from shared.relay import Translated


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)


def translate(event: Any) -> Translated | None:
    if isinstance(event, OrgUnit.Created):
        return Translated(
            c.OrgUnitCreated(
                unit_id=event.originator_id, kind=event.kind, name=event.name, code=event.code,
                parent_id=event.parent_id, block=event.block, effective_from=event.effective_from,
            ),
            _at(event.effective_from),
        )
    if isinstance(event, Member.Admitted):
        return Translated(
            c.MemberAdmitted(
                member_id=event.originator_id, code=event.code, full_name=event.full_name,
                cell_id=event.cell_id, admitted_on=event.admitted_on, status=event.status,
                official_since=event.official_since,
            ),
            _at(event.admitted_on),
        )
    if isinstance(event, Member.Exempted):
        return Translated(
            c.MemberExempted(member_id=event.originator_id, cell_id=event.cell_id, reason=event.reason,
                             note=event.note, effective_from=event.effective_from),
            _at(event.effective_from),
        )
    return None  # internal events (code claims) are not published
