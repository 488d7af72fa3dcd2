"""Request models of the members HTTP API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Block, UnitKind

Code = Field(min_length=1, max_length=40, pattern=r"^[\w.\-/]+$")
Note = Field(default="", max_length=2000)


class Request(BaseModel):
    """A command's body. Who records it is not in the body: it is the authenticated caller (shared/access.py);
    a body that names `recorded_by` is refused like any unknown field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Change(Request):
    """A change of an existing record: `expected_version` (optional) refuses it if the record moved on."""

    expected_version: int | None = Field(default=None, ge=1)


class CreateUnit(Request):
    kind: UnitKind
    name: str = Field(min_length=1, max_length=200)
    code: str = Code
    parent_id: uuid.UUID | None = None
    block: Block | None = None
    effective_from: dt.date


class RenameUnit(Change):
    name: str = Field(min_length=1, max_length=200)
    effective_from: dt.date


class MoveUnit(Change):
    new_parent_id: uuid.UUID
    effective_from: dt.date


class MergeUnits(Request):
    source_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    target_id: uuid.UUID
    effective_from: dt.date


class DissolveUnit(Request):
    reason: str = Note
    effective_from: dt.date


class AdmitMember(Request):
    code: str = Code
    full_name: str = Field(min_length=1, max_length=200)
    cell_id: uuid.UUID
    admitted_on: dt.date
    status: Literal["probationary", "official"] = "probationary"
    official_since: dt.date | None = None
    born_on: dt.date | None = None


class ConfirmMember(Change):
    official_since: dt.date
    override_reason: str | None = Field(default=None, max_length=2000)


class ExemptMember(Change):
    reason: Literal["age", "health", "long_treatment", "work_abroad", "other"]
    note: str = Note
    effective_from: dt.date


class LiftExemption(Change):
    effective_from: dt.date


class TransferMember(Change):
    to_cell_id: uuid.UUID
    kind: Literal["official", "temporary"]
    effective_from: dt.date
    until: dt.date | None = None


class EndTemporaryTransfer(Change):
    effective_from: dt.date


class RemoveMember(Change):
    reason: Literal["struck_off", "expelled", "deceased", "moved_away"]
    note: str = Note
    effective_from: dt.date


class Supervision(Request):
    supervisor_id: uuid.UUID
    cell_id: uuid.UUID
    effective_from: dt.date
