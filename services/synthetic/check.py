"""Check a generated year: rebuild reporting from the generated stores and compare its roll-up with the
figures the generator expects (expected.py), figure by figure, exactly.

The rebuild is `chibo replay`'s (services/reporting/replay.py: the live consumer's tracked path into a new
store), reading the notification logs in-process instead of over HTTP. The comparison reads the roll-up the
reporting API serves (`Queries.rollup`): the whole city by block, and the city by district.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from services.meetings.application import MeetingsApplication
from services.meetings.integration import translate as translate_meetings
from services.members.application import MembersApplication
from services.members.integration import translate as translate_members
from services.reporting import replay
from services.reporting.queries import Queries
from services.synthetic.generator import store_fetch_range
from shared.config import ChiboSettings, StoreSettings
from shared.stores import TrackedStore, event_store_env

PAIRS = {"attendance": ("present", "base"), "participation": ("speakers", "present")}


def rebuild(store: StoreSettings, target: str, progress: bool = False, batch: int = 500,
            ahead: bool | None = None) -> replay.ReplayResult:
    """Reporting rebuilt from position 0 of the generated stores into `target` (dropped first), `batch`
    events per transaction (replay.rebuild; 1: one per event, as the live consumer applies them); `ahead`: the
    logs read in a forked child meanwhile (default: on PostgreSQL, whose connections a child may use as they
    are; an SQLite connection must not cross a fork)."""
    members = MembersApplication(event_store_env(store, "members"))
    meetings = MeetingsApplication(event_store_env(store, "meetings"))
    try:
        fetch = store_fetch_range({"members": (members, translate_members),
                                   "meetings": (meetings, translate_meetings)})
        return replay.rebuild(ChiboSettings(store=store, amqp_uri="memory://"), target=target, progress=progress,
                              fetch_range=fetch, batch=batch,
                              ahead=(store.kind == "postgres") if ahead is None else ahead)
    finally:
        members.close()
        meetings.close()


def _counts(figures: dict[str, Any]) -> dict[str, Any]:
    """Reporting's figures as the exact counts the generator states (a ratio: count and of)."""
    out: dict[str, Any] = {}
    for name, value in figures.items():
        if name in PAIRS:
            out[name] = {k: value[k] for k in PAIRS[name]}
        elif isinstance(value, dict):
            out[name] = {"count": value["count"], "of": value["of"]}
        else:
            out[name] = value
    return out


def reporting_figures(store: StoreSettings, target: str, year: int, report_date: dt.date) -> dict[str, Any]:
    """The reporting API's year roll-up on `target`: the city, by block, by district (keyed by code)."""
    rebuilt = TrackedStore(store, target)
    try:
        with rebuilt.read() as sql:
            queries = Queries(sql, report_date)
            city = next(u.unit_id for u in queries.tree.units.values() if u.kind == "city")
            by_block = queries.rollup({"period": str(year), "by": "block"}, "en")
            by_district = queries.rollup({"unit": city, "period": str(year), "by": "children"}, "en")
    finally:
        rebuilt.close()
    return {"city": _counts(by_block["figures"]),
            "by_block": {g["key"]: _counts(g["figures"]) for g in by_block["groups"]},
            "by_district": {g["unit"]["code"]: _counts(g["figures"]) for g in by_district["groups"]}}


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> Iterator[str]:
    """Every figure that differs, as 'group key figure: expected X, reporting Y' (nothing when equal)."""
    for group in ("city", "by_block", "by_district"):
        want, got = expected[group], actual.get(group, {})
        pairs = [("", want, got)] if group == "city" else \
            [(f" {k}", want.get(k, {}), got.get(k, {})) for k in sorted(set(want) | set(got))]
        for key, w, g in pairs:
            for figure in sorted(set(w) | set(g)):
                if w.get(figure) != g.get(figure):
                    yield f"{group}{key} {figure}: expected {w.get(figure)}, reporting {g.get(figure)}"
