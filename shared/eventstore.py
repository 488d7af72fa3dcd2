"""Base for the services' eventsourcing applications."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from shared.errors import Conflict, DomainError
from shared.idempotency import HEADER, CommandKey, CommandReceipt

# Shown beside an event's data in a history, not inside it.
_AUDIT_FIELDS = ("originator_id", "originator_version", "originator_topic", "timestamp", "recorded_by",
                 "correlation_id", "org_path")


class DateAsISO(Transcoding):
    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


def concurrent_change() -> Conflict:
    return Conflict("version", "the record was changed by someone else meanwhile; reload it and retry",
                    rule="concurrency.version",
                    vi="bản ghi vừa được người khác thay đổi; hãy tải lại và thử lại")


def check_version(aggregate: Aggregate, expected: int | None) -> None:
    """Optimistic concurrency for forms: refuse (409) when the record moved on since the form was loaded."""
    if expected is not None and aggregate.version != expected:
        raise Conflict("expected_version", f"the record is at version {aggregate.version}, not {expected}: "
                       "someone changed it since you loaded it; reload and retry", rule="concurrency.version",
                       vi=f"bản ghi đang ở phiên bản {aggregate.version}, không phải {expected}: đã có người "
                          "thay đổi sau khi bạn tải; hãy tải lại và thử lại")


class ChiboApplication(Application):
    """An eventsourcing Application that also stores dates. Subclasses hold the commands and queries."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:  # type: ignore[override]
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def get_or_none(self, aggregate_id: Any) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def event_history(self, aggregate_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every stored event of an aggregate, with who recorded it, when and from which request (audit)."""
        return [
            {"version": e.originator_version, "type": type(e).__name__, "recorded_at": e.timestamp.isoformat(),
             "recorded_by": getattr(e, "recorded_by", None), "correlation_id": getattr(e, "correlation_id", None),
             "data": {k.lstrip("_"): v for k, v in vars(e).items() if k not in _AUDIT_FIELDS}}
            for e in self.repository.event_store.get(aggregate_id)
        ]

    def prior_result(self, key: CommandKey | None) -> uuid.UUID | None:
        """The result (an aggregate id) of an earlier command sent with this idempotency key, if any."""
        if key is None:
            return None
        receipt = self.get_or_none(key.receipt_id)
        if not isinstance(receipt, CommandReceipt):
            return None
        if receipt.fingerprint != key.fingerprint:
            raise DomainError(HEADER, "this idempotency key was already used for a different request",
                              rule="idempotency.key_reused",
                              vi="khóa chống gửi trùng này đã được dùng cho một yêu cầu khác")
        return uuid.UUID(receipt.result_id)

    def record(self, *aggregates: Aggregate, key: CommandKey | None = None, result_id: Any = None,
               conflict: DomainError | None = None) -> None:
        """Save the aggregates, and the receipt of the command's idempotency key, in one transaction.

        A concurrent save of the same aggregate version (or of the same key) raises `conflict`, by default
        409 "changed meanwhile", and nothing of this command is stored.
        """
        items: list[Aggregate] = list(aggregates)
        if key is not None:
            items.append(key.receipt(result_id if result_id is not None else aggregates[0].id))
        try:
            self.save(*items)
        except IntegrityError:
            raise (conflict or concurrent_change()) from None
