"""Request models of the members HTTP API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Block, UnitKind


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    recorded_by: str = Field(min_length=1, max_length=200, description="who records this (until issue 7's auth)")


class CreateUnit(Request):
    kind: UnitKind
    name: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=40, pattern=r"^[\w.\-/]+$")
    parent_id: uuid.UUID | None = None
    block: Block | None = None
    effective_from: dt.date


class AdmitMember(Request):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[\w.\-/]+$")
    full_name: str = Field(min_length=1, max_length=200)
    cell_id: uuid.UUID
    admitted_on: dt.date
    status: Literal["probationary", "official"] = "probationary"
    official_since: dt.date | None = None
