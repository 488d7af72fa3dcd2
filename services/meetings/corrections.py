"""Corrections (đính chính) of a held or closed meeting's record: which paths can be corrected, the checks of a
corrected value, and how it replaces the recorded one. The original events stay: the Meeting aggregate
(services.meetings.domain) records a `Corrected` event and applies it with `apply`. No framework code.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from shared.errors import DomainError

if TYPE_CHECKING:
    from services.meetings.domain import Meeting


def old_and_new(meeting: Meeting, path: str, value: Any) -> tuple[Any, Any]:
    """The recorded value at `path` and its corrected value; refuses a path that cannot be corrected, a bad value."""
    bad = DomainError("value", f"not a valid value for {path}",
                      rule="correction.value", vi=f"giá trị không hợp lệ cho {path}")
    head, _, rest = path.partition(".")
    if path in ("place", "topic"):
        if not isinstance(value, str) or (path == "topic" and meeting.kind != "regular" and not value.strip()):
            raise bad
        return getattr(meeting, path) or "", value.strip()
    if path in ("chair_id", "minute_taker_id"):
        if value is not None and (not isinstance(value, str) or meeting.entry(value) is None):
            raise meeting._not_in_cell("value", str(value))
        old = getattr(meeting, path)
        return (str(old) if old else None), value
    if path in ("start_time", "end_time"):
        try:
            t = dt.time.fromisoformat(value)
        except (TypeError, ValueError):
            raise bad from None
        assert meeting.started_at is not None and meeting.ended_at is not None
        start = meeting.started_at.replace(hour=t.hour, minute=t.minute) if path == "start_time" else meeting.started_at
        end = meeting.ended_at.replace(hour=t.hour, minute=t.minute) if path == "end_time" else meeting.ended_at
        if end <= start:
            raise DomainError("value", "the end must be after the start",
                              rule="time.end_after_start", vi="giờ kết thúc phải sau giờ bắt đầu")
        old_at = meeting.started_at if path == "start_time" else meeting.ended_at
        return old_at.strftime("%H:%M"), t.strftime("%H:%M")
    if head == "attendance" and meeting.entry(rest) is not None:
        if not isinstance(value, dict) or not isinstance(value.get("present"), bool):
            raise bad
        new = {"present": value["present"]}
        if not value["present"]:
            new |= {"excused": bool(value.get("excused")), "reason": str(value.get("reason") or "").strip()}
            if new["excused"] and not new["reason"]:
                raise DomainError("value.reason", "an excused absence needs its reason",
                                  rule="attendance.excuse_reason", vi="vắng có lý do thì phải ghi lý do")
        return meeting.attendance.get(rest), new
    if head == "speakers":
        index, _, leaf = rest.partition(".")
        if index.isdigit() and int(index) < len(meeting.speakers) and leaf == "gist":
            if not isinstance(value, str) or not value.strip():
                raise bad
            return meeting.speakers[int(index)]["gist"], value.strip()
    if head == "resolutions":
        rid, _, leaf = rest.partition(".")
        for r in meeting.resolutions:
            if str(r["resolution_id"]) == rid and leaf == "text":
                if not isinstance(value, str) or not value.strip():
                    raise bad
                return r["text"], value.strip()
    raise DomainError("path",
                      f"{path!r} cannot be corrected; use place, topic, chair_id, minute_taker_id, start_time, "
                      "end_time, attendance.<member_id>, speakers.<n>.gist or resolutions.<id>.text",
                      rule="correction.path", vi=f"không thể đính chính {path!r}")


def apply(meeting: Meeting, path: str, new_value: Any) -> None:
    """Put a corrected value (as `old_and_new` gave it) in the meeting's state; run when a `Corrected` event is
    applied, so also on replay."""
    head, _, rest = path.partition(".")
    if path in ("place", "topic"):
        setattr(meeting, path, new_value)
    elif path in ("chair_id", "minute_taker_id"):
        setattr(meeting, path, uuid.UUID(new_value) if new_value else None)
    elif path == "start_time" and meeting.started_at:
        t = dt.time.fromisoformat(new_value)
        meeting.started_at = meeting.started_at.replace(hour=t.hour, minute=t.minute)
    elif path == "end_time" and meeting.ended_at:
        t = dt.time.fromisoformat(new_value)
        meeting.ended_at = meeting.ended_at.replace(hour=t.hour, minute=t.minute)
    elif head == "attendance":
        meeting.attendance[rest] = new_value
    elif head == "speakers":
        meeting.speakers[int(rest.split(".")[0])]["gist"] = new_value
    elif head == "resolutions":
        rid = rest.split(".")[0]
        for r in meeting.resolutions:
            if str(r["resolution_id"]) == rid:
                r["text"] = new_value
