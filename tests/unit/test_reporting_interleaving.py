"""The projection is a function of each source's own sequence: any interleaving of the two sources gives the
same tables. Live consumers see whatever interleaving the broker delivers; a replay reads one source after the
other; so this is what makes "replay equals live" hold."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reporting.compliance import projection, schema
from shared.contracts import parse_event
from shared.stores import TrackedStore
from tests.reporting_world import World

D = dt.date


def scenario(settings_) -> World:
    """A quarter of a small ward with a merge, a move, a removal, corrections-free meetings, dues, reviews."""
    w = World(settings_, today=D(2025, 12, 31))
    w.unit("D", "district")
    w.unit("W1", "ward", parent="D")
    w.unit("W2", "ward", parent="D")
    w.unit("A", "cell", parent="W1", block="residential")
    w.unit("B", "cell", parent="W1", block="administrative")
    a, b = w.admit("A", 4), w.admit("B", 3)
    p = w.admit("B", 1, official=False)
    s = str(uuid.uuid4())
    w.supervise(s, "A")
    previous = None
    for month in (1, 2, 3):
        m = w.meeting("A", D(2025, month, 10), dict.fromkeys(a, "official"), absent={a[0]: month != 2},
                      spoke=[a[1]], guests={s: month != 3})
        r = w.resolution(m, "A")
        if previous is not None:
            w.review(m, "A", previous)
        previous = r
        for member in a:
            w.dues(m, "A", member, f"2025-{month:02d}", paid=member != a[3])
        w.meeting("B", D(2025, month, 12), dict.fromkeys(b, "official") | {p[0]: "probationary"},
                  kind="combined" if month == 2 else "regular", absent={p[0]: False})
    w.move("B", "W2", D(2025, 2, 1))
    w.merge(["B"], "A", D(2025, 4, 1))
    return w


def tables(store: TrackedStore) -> dict[str, list[tuple]]:
    with store.read() as sql:
        return {name: [tuple(r) for r in sql.execute(
                    f"SELECT * FROM {name} ORDER BY {', '.join(key)}").fetchall()]
                for name, key in schema.TABLES.items()}


def apply_all(store: TrackedStore, events: list[dict]) -> None:
    for data in events:
        env, payload = parse_event(data)
        with store.tracked(env.source, env.position) as sql:
            projection.project(sql, env, payload)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), meetings_first=st.booleans())
def test_any_interleaving_of_the_sources_gives_the_same_tables(tmp_path_factory, seed, meetings_first):
    from shared.config import StoreSettings

    live = scenario(StoreSettings(kind="sqlite", data_dir=str(tmp_path_factory.mktemp("live"))))
    members, meetings = list(live.members.log), list(live.meetings.log)
    rng = random.Random(seed)
    # a random merge of the two sequences, each kept in its own order; or every meetings event first
    order = ["meetings"] * len(meetings) + ["members"] * len(members) if meetings_first else \
        rng.sample(["members"] * len(members) + ["meetings"] * len(meetings), len(members) + len(meetings))
    queues = {"members": iter(members), "meetings": iter(meetings)}
    other = TrackedStore(StoreSettings(kind="sqlite", data_dir=str(tmp_path_factory.mktemp("other"))), "reporting")
    other.create_tables(schema.DDL)
    apply_all(other, [next(queues[source]) for source in order])
    expected, got = tables(live.store), tables(other)
    assert got == expected
    assert len(expected["meetings"]) == 6 and len(expected["member_years"]) == 8
    live.store.close()
    other.close()
