"""Payloads published by the members service (exchange `members.events`)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from shared.contracts.base import Block, Id, Payload, PersonalName, UnitKind


class OrgUnitCreated(Payload):
    unit_id: Id
    kind: UnitKind
    name: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=40)
    parent_id: Id | None = None
    block: Block | None = None  # cells only
    effective_from: dt.date


class OrgUnitRenamed(Payload):
    unit_id: Id
    old_name: str
    new_name: str = Field(min_length=1, max_length=200)
    effective_from: dt.date


class OrgUnitMoved(Payload):
    unit_id: Id
    old_parent_id: Id | None
    new_parent_id: Id
    effective_from: dt.date


class CellsMerged(Payload):
    """Units (cells, or wards/communes) merged into a target; the sources end on `effective_from`.

    The same transaction also publishes one MemberTransferred (official, reason "merge") per member of each
    source cell and one OrgUnitMoved per unit under a merged source, so each stays self-contained.
    """

    source_ids: list[Id] = Field(min_length=1)
    target_id: Id
    effective_from: dt.date
    kind: UnitKind = "cell"  # the kind of the target (a merge of wards/communes: "ward" or "commune")


class CellDissolved(Payload):
    """A unit of any kind (not only a cell) dissolved from `effective_from`."""

    unit_id: Id
    reason: str = Field(default="", max_length=2000)
    effective_from: dt.date


class MemberAdmitted(Payload):
    member_id: Id
    code: str = Field(min_length=1, max_length=40)
    full_name: PersonalName
    cell_id: Id
    admitted_on: dt.date
    # "official" when an existing official member is entered into the register (not a new admission)
    status: Literal["probationary", "official"] = "probationary"
    official_since: dt.date | None = None


class MemberOfficialized(Payload):
    member_id: Id
    cell_id: Id
    official_since: dt.date
    override_reason: str | None = None  # confirmed before the 12-month probation ended


class MemberTransferred(Payload):
    member_id: Id
    from_cell_id: Id
    to_cell_id: Id
    kind: Literal["official", "temporary"]
    effective_from: dt.date
    # temporary transfers: the day the member is back in the home cell (the spell is [effective_from, until))
    until: dt.date | None = None
    reason: str = Field(default="", max_length=2000)  # "merge" when the transfer follows a merge of cells


class MemberTemporaryTransferEnded(Payload):
    """A temporary transfer ended early: the member is back in the home cell from `effective_from`.

    (A temporary transfer that runs its course needs no event: its `until` says when it ends.)
    """

    member_id: Id
    cell_id: Id  # the home cell
    host_cell_id: Id
    effective_from: dt.date


class MemberExempted(Payload):
    member_id: Id
    cell_id: Id
    reason: Literal["age", "health", "long_treatment", "work_abroad", "other"]
    note: str = Field(default="", max_length=2000)
    effective_from: dt.date


class MemberExemptionLifted(Payload):
    member_id: Id
    cell_id: Id
    effective_from: dt.date


class MemberRemoved(Payload):
    member_id: Id
    cell_id: Id
    reason: Literal["struck_off", "expelled", "deceased", "moved_away"]  # xóa tên, khai trừ, từ trần, chuyển đi
    note: str = Field(default="", max_length=2000)
    effective_from: dt.date


class SupervisorAssigned(Payload):
    supervisor_id: Id  # a member of a superior committee
    cell_id: Id
    effective_from: dt.date


class SupervisorUnassigned(Payload):
    supervisor_id: Id
    cell_id: Id
    effective_from: dt.date


MEMBERS_PAYLOADS: tuple[type[Payload], ...] = (
    OrgUnitCreated,
    OrgUnitRenamed,
    OrgUnitMoved,
    CellsMerged,
    CellDissolved,
    MemberAdmitted,
    MemberOfficialized,
    MemberTransferred,
    MemberTemporaryTransferEnded,
    MemberExempted,
    MemberExemptionLifted,
    MemberRemoved,
    SupervisorAssigned,
    SupervisorUnassigned,
)
