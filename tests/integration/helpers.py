"""Helpers for tests against the real broker and the service processes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from services.client import ChiboClient
from shared import topology
from tests.support import drain


def counter(client: ChiboClient, service: str, name: str, **labels: str) -> float:
    """The value of a counter sample on a service's /metrics (0 when absent)."""
    text = client.ops(service, "/metrics", timeout=10).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def drain_dead_letters(amqp_uri: str, consumer: str, source: str) -> list[tuple[Any, dict[str, Any]]]:
    return [(body, headers) for _, body, headers in drain(amqp_uri, topology.dead_letter_queue(consumer, source))]


def all_published(client: ChiboClient, source: str) -> list[dict[str, Any]]:
    """Every published event of `source`, with previous_position set as the relay sets it."""
    items = client.published(source)
    previous = 0
    for item in items:
        item["previous_position"] = previous
        previous = item["position"]
    return items


def small_ward(client: ChiboClient, code: str, members_per_cell: int = 4) -> dict[str, Any]:
    ward = client.post("members", "/units", {"kind": "ward", "name": f"Phường {code}", "code": code,
                                             "effective_from": "2020-01-01"})
    cells = {}
    for c in range(2):
        cell = client.post("members", "/units", {"kind": "cell", "name": f"Chi bộ {c}", "code": f"{code}-{c}",
                                                 "parent_id": ward["id"], "block": "residential",
                                                 "effective_from": "2020-01-01"})
        cells[cell["id"]] = [
            client.post("members", "/members", {"code": f"{code}-{c}-{i}", "full_name": f"Đảng viên {c}.{i}",
                                                "cell_id": cell["id"], "admitted_on": "2020-03-01",
                                                "status": "official", "official_since": "2021-03-15"})["id"]
            for i in range(members_per_cell)
        ]
    return {"ward": ward["id"], "cells": cells}


def hold_meetings(client: ChiboClient, cells: dict[str, list[str]], months: int = 4) -> dict[tuple[str, str], tuple]:
    """One meeting per cell and month; member i is absent in month i. Returns expected (present, base)."""
    expected = {}
    for cell_id, members in cells.items():
        for month in range(1, months + 1):
            absent = [m for i, m in enumerate(members) if i == month % len(members)]
            client.post("meetings", "/meetings", {
                "cell_id": cell_id, "date": dt.date(2025, month, 12).isoformat(), "start_time": "19:00",
                "end_time": "21:00", "present": [m for m in members if m not in absent],
                "absent": [{"member_id": m, "excused": False} for m in absent]})
            expected[(cell_id, f"2025-{month:02d}")] = (len(members) - 1, len(members))
    return expected


def figures(client: ChiboClient, ward: str) -> dict[tuple[str, str], tuple]:
    rows = client.cell_months("2025-01", "2025-04", ward)
    return {(r["cell_id"], r["month"]): (r["present"], r["attendance_base"]) for r in rows}
