"""Shared building blocks for payload models."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    """Base of every integration-event payload: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


UnitKind = Literal["city", "district", "ward", "commune", "base_organisation", "cell"]
# khối: xã/phường (residential), cơ quan hành chính/sự nghiệp, doanh nghiệp, lực lượng vũ trang
Block = Literal["residential", "administrative", "enterprise", "armed_forces"]
# Status of a member on a given date, as frozen into a meeting's roster.
MemberStatus = Literal["official", "probationary", "exempted", "temporarily_elsewhere"]
MeetingKind = Literal["regular", "thematic", "combined"]  # combined: regular + thematic in one session

Id = uuid.UUID
# The largest integer a store can hold (PostgreSQL BIGINT, SQLite INTEGER): every integer a contract carries is
# bounded by it, so a larger one is a ContractError naming the field, not an overflow inside the consumer.
BIGINT_MAX = 2**63 - 1
Int64 = Annotated[int, Field(ge=-BIGINT_MAX - 1, le=BIGINT_MAX)]
Name = Field(min_length=1, max_length=200)
Text = Field(default="", max_length=4000)

# A person's name as it travels between services: sealed with the person's key (shared/pii.py
# `pii:v1:<owner>:<base64>`, ~880 characters for the 200-character name the members API accepts) or plain.
PersonalName = Annotated[str, Field(min_length=1, max_length=1200)]
