"""Integration-event contracts: the envelope, one payload model per type, and the parser."""

from shared.contracts import meetings, members
from shared.contracts.base import Payload
from shared.contracts.envelope import Envelope, event_id_for
from shared.contracts.registry import CURRENT, UPCASTERS, ContractError, make_envelope, parse_event

__all__ = [
    "CURRENT",
    "UPCASTERS",
    "ContractError",
    "Envelope",
    "Payload",
    "event_id_for",
    "make_envelope",
    "meetings",
    "members",
    "parse_event",
]
