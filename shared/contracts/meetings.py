"""Payloads published by the meetings service (exchange `meetings.events`).

Each is self-contained (event-carried state): a consumer never asks another service what a member's status
was on the meeting's date.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, JsonValue, model_validator

from shared.contracts.base import BIGINT_MAX, Id, Int64, MeetingKind, MemberStatus, Payload, PersonalName


class RosterEntry(Payload):
    member_id: Id
    full_name: PersonalName
    status: MemberStatus
    official: bool | None = None  # official (not probationary) on the date, also when exempted or elsewhere


class MeetingScheduled(Payload):
    meeting_id: Id
    cell_id: Id
    kind: MeetingKind
    topic: str | None = Field(default=None, max_length=500)
    scheduled_for: dt.datetime
    place: str = Field(default="", max_length=500)
    summoned: list[Id] = Field(default_factory=list)
    guests: list[Id] = Field(default_factory=list)


class MeetingHeld(Payload):
    meeting_id: Id
    cell_id: Id
    kind: MeetingKind
    topic: str | None = Field(default=None, max_length=500)
    date: dt.date
    started_at: dt.datetime
    ended_at: dt.datetime
    place: str = Field(default="", max_length=500)
    chair_id: Id | None = None
    minute_taker_id: Id | None = None
    roster: list[RosterEntry]  # the summoned members with their status on the meeting date
    policy_version: str
    # members of other cells temporarily active here (sinh hoạt tạm thời), with their home status: they may
    # attend and speak but are outside this cell's attendance and voting bases
    temporary_participants: list[RosterEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ends_after_start(self) -> MeetingHeld:
        if self.ended_at <= self.started_at:
            raise ValueError("ended_at must be after started_at")
        return self


class MemberAttended(Payload):
    meeting_id: Id
    cell_id: Id
    member_id: Id
    status: MemberStatus


class MemberAbsent(Payload):
    meeting_id: Id
    cell_id: Id
    member_id: Id
    status: MemberStatus
    excused: bool
    reason: str = Field(default="", max_length=2000)


class GuestAttended(Payload):
    meeting_id: Id
    cell_id: Id
    guest_id: Id
    full_name: PersonalName
    is_assigned_supervisor: bool


AgendaStep = Literal[
    "opening",  # khai mạc: dues, attendance announced, agenda adopted, minute-taker named
    "news_and_policy",  # thông tin thời sự, chính sách
    "review_and_follow_up",  # kiểm điểm tháng trước, nghị quyết trước
    "ho_chi_minh_study",  # học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh
    "discussion",  # thảo luận
    "praise_and_criticism",  # biểu dương, phê bình
    "next_month_tasks",  # nhiệm vụ tháng tới, phân công
    "conclusion_and_vote",  # kết luận, biểu quyết
    "minutes_read",  # thông qua biên bản
]


class AgendaStepCovered(Payload):
    meeting_id: Id
    cell_id: Id
    step: AgendaStep
    note: str = Field(default="", max_length=4000)


class MemberSpoke(Payload):
    meeting_id: Id
    cell_id: Id
    member_id: Id
    gist: str = Field(min_length=1, max_length=4000)


ResolutionKind = Literal["ordinary", "admission", "confirmation"]


class _Vote(Payload):
    meeting_id: Id
    cell_id: Id
    resolution_id: Id
    kind: ResolutionKind
    text: str = Field(min_length=1, max_length=8000)
    votes_for: int = Field(ge=0, le=BIGINT_MAX)
    votes_against: int = Field(ge=0, le=BIGINT_MAX)
    abstentions: int = Field(ge=0, le=BIGINT_MAX)
    voting_base: int = Field(ge=0, le=BIGINT_MAX)
    eligible_voters: list[Id]
    threshold: str  # the rule applied, e.g. ">1/2" or ">=2/3"
    voters: list[Id] = Field(default_factory=list)  # who voted (each an eligible voter)
    reason: str = ""  # "not_able_to_decide": no more than half of the voting base was present

    @model_validator(mode="after")
    def _tally_within_base(self) -> _Vote:
        if self.votes_for + self.votes_against + self.abstentions > self.voting_base:
            raise ValueError("votes cast exceed the voting base")
        return self


class ResolutionPassed(_Vote):
    pass


class ResolutionRejected(_Vote):
    pass


class ResolutionReviewed(Payload):
    meeting_id: Id  # the meeting at which the review happened
    cell_id: Id
    resolution_id: Id
    outcome: Literal["implemented", "partly", "not_implemented"]
    note: str = Field(default="", max_length=4000)
    resolution_meeting_id: Id | None = None  # the earlier meeting that voted the resolution


class MeetingClosed(Payload):
    meeting_id: Id
    cell_id: Id
    minutes_approved_at: dt.datetime
    full_procedure: bool | None = None  # every required agenda step covered (None: thematic meeting)
    minutes: Int64 | None = None  # duration in minutes
    below_minimum_duration: bool = False  # shorter than the policy's minimum for its kind (a quality flag)


class MeetingCancelled(Payload):
    meeting_id: Id
    cell_id: Id
    reason: str = Field(min_length=1, max_length=2000)


class DuesCollected(Payload):
    meeting_id: Id
    cell_id: Id
    member_id: Id
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    paid: bool


class MeetingCorrected(Payload):
    """A signed correction of a meeting's record (đính chính): the original events stay; this one wins.

    `path` names what changed: place, topic, chair_id, minute_taker_id, start_time, end_time,
    attendance.<member_id>, speakers.<n>.gist or resolutions.<resolution_id>.text. Who corrected it is the
    envelope's `recorded_by`.
    """

    meeting_id: Id
    cell_id: Id
    path: str = Field(min_length=1, max_length=200)
    old_value: JsonValue = None
    new_value: JsonValue = None
    reason: str = Field(min_length=1, max_length=2000)


MEETINGS_PAYLOADS: tuple[type[Payload], ...] = (
    MeetingScheduled,
    MeetingHeld,
    MemberAttended,
    MemberAbsent,
    GuestAttended,
    AgendaStepCovered,
    MemberSpoke,
    ResolutionPassed,
    ResolutionRejected,
    ResolutionReviewed,
    MeetingClosed,
    MeetingCancelled,
    DuesCollected,
    MeetingCorrected,
)
