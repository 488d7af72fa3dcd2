"""The integration-event envelope: what crosses the bus and the notification API, as plain JSON."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import BIGINT_MAX

# Namespace for deterministic event ids: the same stored event always gets the same event_id, so a
# republished message (outbox relay crash) is recognisably the same fact.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2d1e-7c1b-4d55-9a57-3f0c3c0b9e11")


def event_id_for(source: str, stream_id: uuid.UUID, stream_version: int) -> uuid.UUID:
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{source}:{stream_id}:{stream_version}")


class Envelope(BaseModel):
    """One integration event. `payload` is validated against the model registered for (type, version)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    type: str = Field(min_length=1, max_length=80)
    version: int = Field(ge=1, le=BIGINT_MAX)
    source: str = Field(min_length=1, max_length=40)
    # Gap-free-in-intent position in the source's notification log. Holes can exist (an event that is not
    # published, a rolled-back sequence value); the source's notification API is the authority on them.
    position: int = Field(ge=1, le=BIGINT_MAX)
    # Position of the event this source published just before this one (0 for its first). Holes in the log
    # are normal (internal events such as uniqueness indexes are not published), so a consumer compares
    # this with its own last position to tell a hole from a message it missed. Absent on items served by
    # the notification API, where the caller asked for a whole range.
    previous_position: int | None = Field(default=None, ge=0, le=BIGINT_MAX)
    stream_id: uuid.UUID
    stream_version: int = Field(ge=1, le=BIGINT_MAX)
    occurred_at: datetime  # when the fact happened in the world (meeting date, admission date...)
    recorded_at: datetime  # when the platform stored it
    recorded_by: str = Field(min_length=1, max_length=200)
    org_path: list[str] = Field(default_factory=list)  # unit ids from the root down to the unit concerned
    correlation_id: str | None = Field(default=None, max_length=200)
    payload: Any

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only (kombu's own JSON would wrap UUIDs and datetimes in private markers)."""
        return self.model_dump(mode="json")
