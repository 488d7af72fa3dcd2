"""Domain events of the members service -> integration events (shared.contracts.members).

Private facts stay private: the date of birth on an admission, the code claims, the merge as seen from a
source unit (its MergedInto; the target's Absorbed publishes CellsMerged with every source).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.members.domain import Member, OrgUnit
from shared.contracts import members as c
from shared.contracts.base import Payload
from shared.relay import Translated


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)


def _payload(event: Any) -> Payload | None:
    if isinstance(event, OrgUnit.Created):
        return c.OrgUnitCreated(unit_id=event.originator_id, kind=event.kind, name=event.name, code=event.code,
                                parent_id=event.parent_id, block=event.block, effective_from=event.effective_from)
    if isinstance(event, OrgUnit.Renamed):
        return c.OrgUnitRenamed(unit_id=event.originator_id, old_name=event.old_name, new_name=event.new_name,
                                effective_from=event.effective_from)
    if isinstance(event, OrgUnit.Moved):
        return c.OrgUnitMoved(unit_id=event.originator_id, old_parent_id=event.old_parent_id,
                              new_parent_id=event.new_parent_id, effective_from=event.effective_from)
    if isinstance(event, OrgUnit.Absorbed):
        return c.CellsMerged(source_ids=event.source_ids, target_id=event.originator_id, kind=event.kind,
                             effective_from=event.effective_from)
    if isinstance(event, OrgUnit.Dissolved):
        return c.CellDissolved(unit_id=event.originator_id, reason=event.reason, effective_from=event.effective_from)
    if isinstance(event, OrgUnit.SupervisorAssigned):
        return c.SupervisorAssigned(supervisor_id=event.supervisor_id, cell_id=event.originator_id,
                                    effective_from=event.effective_from)
    if isinstance(event, OrgUnit.SupervisorUnassigned):
        return c.SupervisorUnassigned(supervisor_id=event.supervisor_id, cell_id=event.originator_id,
                                      effective_from=event.effective_from)
    if isinstance(event, Member.Admitted):
        return c.MemberAdmitted(member_id=event.originator_id, code=event.code, full_name=event.full_name,
                                cell_id=event.cell_id, admitted_on=event.admitted_on, status=event.status,
                                official_since=event.official_since)
    if isinstance(event, Member.Officialized):
        return c.MemberOfficialized(member_id=event.originator_id, cell_id=event.cell_id,
                                    official_since=event.official_since, override_reason=event.override_reason)
    if isinstance(event, Member.Exempted):
        return c.MemberExempted(member_id=event.originator_id, cell_id=event.cell_id, reason=event.reason,
                                note=event.note, effective_from=event.effective_from)
    if isinstance(event, Member.ExemptionLifted):
        return c.MemberExemptionLifted(member_id=event.originator_id, cell_id=event.cell_id,
                                       effective_from=event.effective_from)
    if isinstance(event, Member.Transferred):
        return c.MemberTransferred(member_id=event.originator_id, from_cell_id=event.from_cell_id,
                                   to_cell_id=event.to_cell_id, kind=event.kind, effective_from=event.effective_from,
                                   until=event.until, reason=event.reason)
    if isinstance(event, Member.TemporaryTransferEnded):
        return c.MemberTemporaryTransferEnded(member_id=event.originator_id, cell_id=event.home_cell_id,
                                              host_cell_id=event.host_cell_id, effective_from=event.effective_from)
    if isinstance(event, Member.Removed):
        return c.MemberRemoved(member_id=event.originator_id, cell_id=event.cell_id, reason=event.reason,
                               note=event.note, effective_from=event.effective_from)
    return None  # internal events (code claims, a merge source's MergedInto) are not published


def translate(event: Any) -> Translated | None:
    payload = _payload(event)
    if payload is None:
        return None
    if isinstance(event, Member.Admitted):
        day = event.admitted_on
    elif isinstance(event, Member.Officialized):
        day = event.official_since
    else:
        day = event.effective_from
    return Translated(payload, _at(day))
