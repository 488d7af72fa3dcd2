"""Idempotency keys: a resubmitted form returns the first answer instead of recording the command twice.

A client sends `Idempotency-Key: <any string up to 200 chars>` with a command. The first time, the command's
aggregates are saved together with a `CommandReceipt` whose id is derived from the key, in one transaction;
so either both the command's events and its receipt are stored, or neither. A later request with the same key
finds the receipt and gets the same result back without recording anything. The same key with a different
body (or on another route) is refused: the key was meant for something else.

Two concurrent requests with one key race on the receipt's id: one wins, the other gets 409 and, on retry,
the first one's answer.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate, event

_NS = uuid.UUID("6d1f4a8e-92c5-4b0f-a1e3-5c7d9b2e4f60")
HEADER = "Idempotency-Key"


class CommandReceipt(Aggregate):
    """An accepted command's key, what it was for (fingerprint) and what it produced (result id)."""

    @event("Recorded")
    def __init__(self, id: uuid.UUID, key: str, fingerprint: str, result_id: str):
        self.key = key
        self.fingerprint = fingerprint
        self.result_id = result_id


@dataclass(frozen=True)
class CommandKey:
    key: str
    fingerprint: str  # sha256 of the route and the command's canonical JSON

    @property
    def receipt_id(self) -> uuid.UUID:
        return uuid.uuid5(_NS, self.key)

    @classmethod
    def of(cls, key: str, route: str, body: Any) -> CommandKey:
        canonical = json.dumps([route, body], sort_keys=True, ensure_ascii=False, default=str)
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest())

    def receipt(self, result_id: Any) -> CommandReceipt:
        return CommandReceipt(id=self.receipt_id, key=self.key, fingerprint=self.fingerprint,
                              result_id=str(result_id))
