"""The discriminated parser: envelope JSON in, (envelope, typed payload) out, or a ContractError.

Versions only grow. A payload recorded at an older version is upcast, one step at a time, by functions
registered in UPCASTERS, before the current model validates it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from shared.contracts.base import Payload
from shared.contracts.envelope import Envelope
from shared.contracts.meetings import MEETINGS_PAYLOADS
from shared.contracts.members import MEMBERS_PAYLOADS

# type name -> (current version, model)
CURRENT: dict[str, tuple[int, type[Payload]]] = {
    model.__name__: (1, model) for model in (*MEMBERS_PAYLOADS, *MEETINGS_PAYLOADS)
}
SOURCES: dict[str, str] = {
    **{m.__name__: "members" for m in MEMBERS_PAYLOADS},
    **{m.__name__: "meetings" for m in MEETINGS_PAYLOADS},
}
# (type, from_version) -> function turning that version's payload dict into the next version's
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


class ContractError(ValueError):
    """An event that does not satisfy the contract. `field` names what is wrong."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message if field is None else f"{field}: {message}")
        self.field = field
        self.message = message


def _first_error(exc: ValidationError, prefix: str) -> ContractError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return ContractError(err["msg"], f"{prefix}{loc}" if loc else prefix.rstrip("."))


def parse_event(data: Any) -> tuple[Envelope, Payload]:
    """Validate an envelope and its payload; raise ContractError naming the first bad field."""
    if not isinstance(data, dict):
        raise ContractError(f"an event must be a JSON object, not {type(data).__name__}")
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, "") from exc
    known = CURRENT.get(envelope.type)
    if known is None:
        raise ContractError(f"unknown event type {envelope.type!r}", "type")
    current_version, model = known
    if envelope.version > current_version:
        raise ContractError(
            f"version {envelope.version} of {envelope.type} is newer than this service understands "
            f"({current_version})",
            "version",
        )
    if SOURCES[envelope.type] != envelope.source:
        raise ContractError(f"{envelope.type} is not published by {envelope.source!r}", "source")
    payload = envelope.payload
    if not isinstance(payload, dict):
        raise ContractError("payload must be a JSON object", "payload")
    for version in range(envelope.version, current_version):
        upcast = UPCASTERS.get((envelope.type, version))
        if upcast is None:
            raise ContractError(f"no upcaster for {envelope.type} v{version}", "version")
        payload = upcast(payload)
    try:
        typed = model.model_validate(payload)
    except ValidationError as exc:
        raise _first_error(exc, "payload.") from exc
    return envelope, typed


def make_envelope(payload: Payload, **fields: Any) -> Envelope:
    """Build an envelope around a typed payload at the current version (used by the relay)."""
    type_name = type(payload).__name__
    version, _ = CURRENT[type_name]
    return Envelope(type=type_name, version=version, payload=payload.model_dump(mode="json"), **fields)
