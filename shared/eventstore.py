"""Base for the services' eventsourcing applications."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, StoredEvent, Transcoding

from shared import pii
from shared.config import StoreSettings
from shared.errors import Conflict, DomainError
from shared.idempotency import HEADER, CommandKey, CommandReceipt

# The event store's environment names the key store (shared/stores.py event_store_env): JSON of StoreSettings.
PII_STORE_ENV = "CHIBO_PII_STORE"

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


class SealingMapper(Mapper):
    """Seals an event's personal fields with their owner's key (shared/pii.py) before storing it.

    `personal` maps an event class's qualified name to {field: attribute naming the owner}. Stored events
    come back still sealed: the application reveals what it shows (`ChiboApplication.reveal`), and the
    relay publishes the sealed strings as they are, so every copy downstream is sealed too.
    """

    ring: pii.KeyRing | None = None
    personal: Mapping[str, Mapping[str, str]] = {}

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fields = self.personal.get(type(domain_event).__qualname__)
        if fields and self.ring is not None:
            state = dict(vars(domain_event))
            context = f"{domain_event.originator_id}:{domain_event.originator_version}"
            for name, owner_attr in fields.items():
                value = state.get(name)
                if value is None or pii.is_sealed(value):
                    continue
                text = value.isoformat() if isinstance(value, dt.date) else str(value)
                state[name] = self.ring.seal(state.get(owner_attr, domain_event.originator_id), name, text,
                                             context=context)
            sealed = object.__new__(type(domain_event))
            object.__setattr__(sealed, "__dict__", state)
            domain_event = sealed
        return super().to_stored_event(domain_event)


def ring_from_env(env: Any) -> pii.KeyRing | None:
    """The key ring named by an event store's environment (None: an in-memory store of a unit test)."""
    raw = env.get(PII_STORE_ENV)
    if not raw:
        return None
    return pii.keyring(StoreSettings(**json.loads(raw)))


def pii_store_env(settings: StoreSettings) -> dict[str, str]:
    return {PII_STORE_ENV: json.dumps(dataclasses.asdict(settings))}


def project(aggregate: Any, events: Any) -> Any:
    """eventsourcing's `project_aggregate` without its per-event `isinstance` against a runtime-checkable
    Protocol, which Python 3.11 answers by walking the class's attributes: three quarters of the time spent
    replaying a meeting's events (tests/bench/single_commands.py)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class ChiboApplication(Application):
    """An eventsourcing Application that also stores dates. Subclasses hold the commands and queries.

    Personal fields of the events named in `personal_fields` are sealed in the store (SealingMapper).

    `aggregate_cache` (AGGREGATE_CACHE_MAXSIZE in the environment overrides it; 0: none) keeps that many
    aggregates in memory, least recently used out: a command then decrypts and replays only the events stored
    since (eventsourcing's fast-forward: one query, so a change made by another process is always read), not
    the aggregate's whole history. Only stored events fill it, never an aggregate as a command left it, so its
    personal fields are sealed as in the store and an erasure reaches it; every `get_or_none` answers a copy.
    """

    personal_fields: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    aggregate_cache: ClassVar[int] = 0
    pii: pii.KeyRing | None = None

    def construct_recorder(self) -> Any:
        from shared.stores import quiet_pre_ping

        recorder = super().construct_recorder()
        quiet_pre_ping(getattr(recorder, "datastore", None))
        return recorder

    def construct_repository(self) -> Repository[Any]:
        size = int(self.env.get(self.AGGREGATE_CACHE_MAXSIZE) or self.aggregate_cache)
        # fastforward: never the cache of saved aggregates (it would keep what a command typed, unsealed)
        return Repository(event_store=self.events, snapshot_store=self.snapshots,
                          cache_maxsize=size if size > 0 else None, fastforward=True)

    def cached(self, aggregate_id: Any) -> Any:
        """The aggregate as the cache holds it (not fast-forwarded, not copied), or None: only for what never
        changes once created (a meeting's cell), read without a query. Never mutate it."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            return cache.get(aggregate_id)
        except KeyError:
            return None

    def construct_mapper(self) -> Mapper:  # type: ignore[override]
        self.pii = ring_from_env(self.env)
        mapper = self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=SealingMapper)
        assert isinstance(mapper, SealingMapper)
        mapper.ring, mapper.personal = self.pii, self.personal_fields
        return mapper

    def _notify(self, recordings: list[Any]) -> None:
        """After a save commits: count the stored events per type (chibo_events_stored_total)."""
        from shared.metrics import EVENTS_STORED

        for recording in recordings:
            EVENTS_STORED.labels(self.name, type(recording.domain_event).__qualname__).inc()

    def close(self) -> None:
        super().close()
        if self.pii is not None:
            pii.release(self.pii.settings)
            self.pii = None

    def reveal(self, obj: Any) -> Any:
        """`obj` (JSON-like) with every sealed string opened, or the erasure placeholder (one key query)."""
        return self.pii.reveal(obj) if self.pii is not None else obj

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:  # type: ignore[override]
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def get_or_none(self, aggregate_id: Any) -> Any:
        try:
            return self.repository.get(aggregate_id, projector_func=project)
        except AggregateNotFoundError:
            return None

    def event_history(self, aggregate_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every stored event of an aggregate, with who recorded it, when and from which request (audit)."""
        return self.reveal([
            {"version": e.originator_version, "type": type(e).__name__, "recorded_at": e.timestamp.isoformat(),
             "recorded_by": getattr(e, "recorded_by", None), "correlation_id": getattr(e, "correlation_id", None),
             "data": {k.lstrip("_"): v for k, v in vars(e).items() if k not in _AUDIT_FIELDS}}
            for e in self.repository.event_store.get(aggregate_id)
        ])

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
