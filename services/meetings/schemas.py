"""Request models of the meetings HTTP API."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, JsonValue

from shared.contracts.base import MeetingKind


class Strict(BaseModel):
    """A command's body. Who records it is not in the body: it is the authenticated caller (shared/access.py);
    a body that names `recorded_by` is refused like any unknown field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AbsentEntry(Strict):
    member_id: uuid.UUID
    excused: bool
    reason: str = Field(default="", max_length=2000)


class GuestEntry(Strict):
    guest_id: uuid.UUID
    full_name: str | None = Field(default=None, max_length=200)  # default: the name the register knows


class StepEntry(Strict):
    step: str = Field(max_length=60)  # shared.contracts.meetings.AgendaStep; the order is checked by the domain
    note: str = Field(default="", max_length=4000)


class SpeakerEntry(Strict):
    member_id: uuid.UUID
    gist: str = Field(max_length=4000)


class DuesEntry(Strict):
    member_id: uuid.UUID
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    paid: bool


class ScheduleMeeting(Strict):
    cell_id: uuid.UUID
    kind: MeetingKind = "regular"
    topic: str | None = Field(default=None, max_length=500)
    date: dt.date
    start_time: dt.time
    place: str = Field(default="", max_length=500)


class HoldMeeting(ScheduleMeeting):
    """A held meeting in one form: facts, full attendance, and optionally the rest of the minutes."""

    end_time: dt.time
    chair_id: uuid.UUID | None = None
    minute_taker_id: uuid.UUID | None = None
    present: list[uuid.UUID] = Field(default_factory=list, max_length=2000)
    absent: list[AbsentEntry] = Field(default_factory=list, max_length=2000)
    guests: list[GuestEntry] = Field(default_factory=list, max_length=100)
    agenda_steps: list[StepEntry] = Field(default_factory=list, max_length=20)
    speakers: list[SpeakerEntry] = Field(default_factory=list, max_length=500)
    dues: list[DuesEntry] = Field(default_factory=list, max_length=2000)


class MeetingCommand(Strict):
    """A command on an existing meeting; `expected_version` (optional) refuses it with 409 if the meeting moved on."""

    expected_version: int | None = Field(default=None, ge=1)


class HoldScheduled(MeetingCommand):
    date: dt.date
    start_time: dt.time
    end_time: dt.time
    place: str = Field(default="", max_length=500)
    chair_id: uuid.UUID | None = None
    minute_taker_id: uuid.UUID | None = None


class Attendance(MeetingCommand):
    present: list[uuid.UUID] = Field(default_factory=list, max_length=2000)
    absent: list[AbsentEntry] = Field(default_factory=list, max_length=2000)


class Guests(MeetingCommand):
    guests: list[GuestEntry] = Field(min_length=1, max_length=100)


class AgendaSteps(MeetingCommand):
    steps: list[StepEntry] = Field(min_length=1, max_length=20)


class Speakers(MeetingCommand):
    speakers: list[SpeakerEntry] = Field(min_length=1, max_length=500)


class Resolution(MeetingCommand):
    text: str = Field(max_length=8000)
    kind: str = Field(default="ordinary", max_length=20)  # ordinary | admission | confirmation
    votes_for: int = Field(ge=0)
    votes_against: int = Field(ge=0)
    abstentions: int = Field(ge=0, validation_alias=AliasChoices("abstentions", "votes_abstain"))
    voters: list[uuid.UUID] = Field(default_factory=list, max_length=2000)  # who voted: official members present


class Review(MeetingCommand):
    resolution_id: uuid.UUID
    outcome: str = Field(max_length=20)  # implemented | partly | not_implemented
    note: str = Field(default="", max_length=4000)


class Dues(MeetingCommand):
    dues: list[DuesEntry] = Field(min_length=1, max_length=2000)


class Close(MeetingCommand):
    pass


class Cancel(MeetingCommand):
    reason: str = Field(max_length=2000)


class Correction(MeetingCommand):
    path: str = Field(min_length=1, max_length=200)
    value: JsonValue = None
    reason: str = Field(max_length=2000)
