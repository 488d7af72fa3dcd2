"""Request models of the meetings HTTP API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import MeetingKind


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AbsentEntry(Strict):
    member_id: uuid.UUID
    excused: bool
    reason: str = Field(default="", max_length=2000)


class HoldMeeting(Strict):
    recorded_by: str = Field(min_length=1, max_length=200)
    cell_id: uuid.UUID
    kind: MeetingKind = "regular"
    topic: str | None = Field(default=None, max_length=500)
    date: dt.date
    start_time: dt.time
    end_time: dt.time
    place: str = Field(default="", max_length=500)
    chair_id: uuid.UUID | None = None
    minute_taker_id: uuid.UUID | None = None
    present: list[uuid.UUID] = Field(default_factory=list, max_length=2000)
    absent: list[AbsentEntry] = Field(default_factory=list, max_length=2000)


