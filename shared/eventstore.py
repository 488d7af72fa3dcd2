"""Base for the services' eventsourcing applications."""

from __future__ import annotations

import datetime as dt
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding


class DateAsISO(Transcoding):
    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


class ChiboApplication(Application):
    """An eventsourcing Application that also stores dates. Subclasses hold the commands and queries."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:  # type: ignore[override]
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def get_or_none(self, aggregate_id: Any) -> Any:
        from eventsourcing.application import AggregateNotFoundError

        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
