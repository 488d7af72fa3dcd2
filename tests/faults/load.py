"""A steady stream of commands on a generated ward, through the HTTP APIs, and what the test expects of it.

Three meeting cells of four official members each, and an admissions cell. Two green threads send, one
command after another each (bounded: `max_commands`, a short per-request timeout): the members thread admits
members; the meetings thread holds meetings (one present list per meeting, one absent member) and passes a
resolution at every other meeting it has held. Every command carries a unique tag (member code, meeting
topic, resolution text) so that one answered 5xx or not at all can be looked for in the event store later.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from services.client import ApiError, ChiboClient

FIRST_DAY = dt.date(2022, 1, 3)
MONTHS = ("2022-01", "2025-12")


@dataclass
class Sent:
    kind: str  # member | meeting | resolution
    tag: str
    body: dict[str, Any]
    status: int | str  # the HTTP status, or "error" (no answer: connection refused, reset, timeout)
    id: str | None = None  # the new aggregate's id, when answered 2xx
    meeting_id: str | None = None  # a resolution's meeting
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300


def build_ward(client: ChiboClient, code: str) -> dict[str, Any]:
    ward = client.post("members", "/units", {"kind": "ward", "name": f"Phường {code}", "code": code,
                                             "effective_from": "2020-01-01"})

    def cell(i: int) -> str:
        return client.post("members", "/units", {"kind": "cell", "name": f"Chi bộ {i}", "code": f"{code}-{i}",
                                                 "parent_id": ward["id"], "block": "residential",
                                                 "effective_from": "2020-01-01"})["id"]

    cells: dict[str, list[str]] = {}
    for c in range(3):
        cell_id = cell(c)
        cells[cell_id] = [
            client.post("members", "/members", {"code": f"{code}-{c}-{i}", "full_name": f"Đảng viên {c}.{i}",
                                                "cell_id": cell_id, "admitted_on": "2020-03-01",
                                                "status": "official", "official_since": "2021-03-15"})["id"]
            for i in range(4)
        ]
    return {"ward": ward["id"], "cells": cells, "admissions": cell(9), "code": code}


class Load:
    """Runs the stream until `stop()`; `sent` is every command with its answer."""

    def __init__(self, client: ChiboClient, ward: dict[str, Any], max_commands: int = 250, pace: float = 0.02,
                 timeout: float = 5.0):
        self.client = ChiboClient(client.urls, ops_urls=client.ops_urls, timeout=timeout)
        self.client.session.headers.update(client.session.headers)
        self.members_client = ChiboClient(client.urls, ops_urls=client.ops_urls, timeout=timeout)
        self.members_client.session.headers.update(client.session.headers)
        self.ward = ward
        self.max_commands = max_commands
        self.pace = pace
        self.sent: list[Sent] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._members, daemon=True),
                         threading.Thread(target=self._meetings, daemon=True)]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)
        for client in (self.client, self.members_client):
            client.session.close()

    def run_for(self, seconds: float) -> None:
        """Let the stream flow for `seconds` (the load keeps its pace; no assertion depends on it)."""
        self._stop.wait(seconds)

    def _send(self, client: ChiboClient, kind: str, tag: str, service: str, path: str, body: dict[str, Any],
              **extra: Any) -> Sent:
        try:
            answer = client.post(service, path, body)
            sent = Sent(kind, tag, body, 201, answer.get("id") or answer.get("meeting_id")
                        or answer.get("resolution_id"), **extra)
        except ApiError as exc:
            sent = Sent(kind, tag, body, exc.status, **extra)
        except (requests.RequestException, ValueError, OSError):  # no (usable) answer: the command's fate unknown
            sent = Sent(kind, tag, body, "error", **extra)
        self.sent.append(sent)
        return sent

    def _budget(self) -> bool:
        return not self._stop.is_set() and len(self.sent) < self.max_commands

    def _members(self) -> None:
        n = 0
        code = self.ward["code"]
        while self._budget():
            n += 1
            self._send(self.members_client, "member", f"{code}-a{n}", "members", "/members", {
                "code": f"{code}-a{n}", "full_name": f"Quần chúng {n}", "cell_id": self.ward["admissions"],
                "admitted_on": "2024-05-01"})
            self._stop.wait(self.pace * 2)

    def _meetings(self) -> None:
        cells = list(self.ward["cells"].items())
        n = 0
        while self._budget():
            n += 1
            cell_id, members = cells[n % len(cells)]
            absent = members[n % len(members)]
            present = [m for m in members if m != absent]
            tag = f"{self.ward['code']}-m{n}"
            meeting = self._send(self.client, "meeting", tag, "meetings", "/meetings", {
                "cell_id": cell_id, "topic": tag, "date": (FIRST_DAY + dt.timedelta(days=n)).isoformat(),
                "start_time": "19:00", "end_time": "21:00", "present": present,
                "absent": [{"member_id": absent, "excused": False}]})
            if meeting.ok and n % 2 == 0 and self._budget():
                self._send(self.client, "resolution", f"{tag}-r", "meetings", f"/meetings/{meeting.id}/resolutions",
                           {"text": f"{tag}-r", "votes_for": 3, "votes_against": 0, "abstentions": 0,
                            "voters": present}, meeting_id=meeting.id)
            self._stop.wait(self.pace)

    # -- what the test expects -------------------------------------------------------------------------------

    def counts(self) -> Counter:
        return Counter("2xx" if s.ok else ("5xx" if isinstance(s.status, int) and s.status >= 500 else str(s.status))
                       for s in self.sent)
