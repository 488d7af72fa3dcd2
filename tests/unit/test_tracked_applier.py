"""The tracked consumer's logic on both stores: duplicates, reordering, gaps and poison all end in the
projection of one clean pass; each event applied exactly once."""

import random
import uuid

import pytest

from shared.consumer import TrackedApplier
from shared.contracts import parse_event
from shared.stores import TrackedStore
from tests.factories import Source, admitted, unit

DDL = ("CREATE TABLE IF NOT EXISTS applied (position BIGINT PRIMARY KEY, type TEXT NOT NULL)",)


def project(sql, envelope, payload):
    sql.execute("INSERT INTO applied (position, type) VALUES (?, ?)", (envelope.position, envelope.type))


def make_source(n=30, holes=True):
    src = Source("members")
    cell = unit()
    src.emit(cell)
    rng = random.Random(7)
    for _ in range(n - 1):
        src.emit(admitted(cell.unit_id), hole=rng.choice([0, 0, 1]) if holes else 0)
    return src


def applier(settings, src, name, project_fn=project, dead=None):
    store = TrackedStore(settings, name)
    store.create_tables(DDL)
    dead = dead if dead is not None else []
    return TrackedApplier(name, store, project_fn, fetch_range=src.fetch_range,
                          dead_letter=lambda body, reason: dead.append((body, reason))), store


def deliver(app, messages):
    totals = {"applied": 0, "duplicates": 0, "gap_filled": 0}
    for data in messages:
        env, payload = parse_event(data)
        r = app.handle(env, payload)
        totals["applied"] += r.applied
        totals["duplicates"] += r.duplicates
        totals["gap_filled"] += r.gap_filled
    return totals


def table(store):
    with store.read() as sql:
        return [(r["position"], r["type"]) for r in sql.execute("SELECT * FROM applied ORDER BY position").fetchall()]


def test_clean_pass_applies_everything_in_order(store_settings):
    src = make_source()
    app, store = applier(store_settings, src, "clean")
    totals = deliver(app, src.log)
    assert totals == {"applied": 30, "duplicates": 0, "gap_filled": 0}  # holes are not gaps
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log]
    assert store.position("members") == src.log[-1]["position"]


def test_duplicated_reordered_and_missing_deliveries_end_like_a_clean_pass(store_settings):
    src = make_source()
    clean, clean_store = applier(store_settings, src, "clean")
    deliver(clean, src.log)

    rng = random.Random(3)
    chaos = [m for m in src.log if rng.random() > 0.25]  # a quarter lost
    chaos += rng.sample(src.log, 10)  # some duplicated
    rng.shuffle(chaos)  # and everything reordered
    chaos.append(src.log[-1])  # the last event does arrive (else nothing tells the consumer it is behind)
    messy, messy_store = applier(store_settings, src, "messy")
    totals = deliver(messy, chaos)

    assert table(messy_store) == table(clean_store)
    assert totals["applied"] == len(src.log)  # exactly once each
    assert totals["gap_filled"] > 0 and totals["duplicates"] > 0


def test_a_redelivered_event_is_skipped(store_settings):
    src = make_source(5)
    app, store = applier(store_settings, src, "dup")
    deliver(app, src.log)
    assert deliver(app, [src.log[2], src.log[4]]) == {"applied": 0, "duplicates": 2, "gap_filled": 0}
    assert len(table(store)) == 5


@pytest.mark.parametrize("batch", [None, 10], ids=["one_by_one", "in_a_batch"])
def test_a_poison_event_is_dead_lettered_and_the_stream_goes_on(store_settings, batch):
    """In a batch too: the batch is rolled back and applied one event at a time, the poison dead-lettered."""
    src = make_source(10, holes=False)
    poison_position = src.log[4]["position"]

    def picky(sql, envelope, payload):
        if envelope.position == poison_position:
            raise ValueError("this projection rejects it")
        project(sql, envelope, payload)

    dead = []
    app, store = applier(store_settings, src, f"poison_{batch}", picky, dead)
    if batch:
        assert batched(app, src.log, batch) == {"applied": 9, "duplicates": 0, "gap_filled": 0, "dead_lettered": 1}
    else:
        deliver(app, src.log)
    assert store.position("members") == src.log[-1]["position"]
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log if e["position"] != poison_position]
    assert len(dead) == 1 and dead[0][0]["position"] == poison_position
    assert "rejects it" in dead[0][1]
    with store.read() as sql:
        rows = sql.execute("SELECT position, reason FROM dead_letters").fetchall()
    assert [(r["position"], "rejects it" in r["reason"]) for r in rows] == [(poison_position, True)]
    # Redelivering the poison later does not apply it twice nor dead-letter it again.
    deliver(app, [src.log[4]])
    assert len(dead) == 1


def test_a_poison_event_pulled_in_by_gap_filling_is_dead_lettered_too(store_settings):
    src = make_source(6, holes=False)
    bad = src.log[2]["position"]

    def picky(sql, envelope, payload):
        if envelope.position == bad:
            raise KeyError("unknown meeting")
        project(sql, envelope, payload)

    dead = []
    app, store = applier(store_settings, src, "gap-poison", picky, dead)
    deliver(app, [src.log[0], src.log[5]])  # 2..5 missing: pulled from the source
    assert len(table(store)) == 5 and [d[0]["position"] for d in dead] == [bad]


def test_infrastructure_errors_propagate_for_a_retry_and_record_nothing(store_settings):
    src = make_source(3, holes=False)

    def flaky(sql, envelope, payload):
        raise ConnectionError("database went away")

    dead = []
    app, store = applier(store_settings, src, "flaky", flaky, dead)
    env, payload = parse_event(src.log[0])
    with pytest.raises(ConnectionError):
        app.handle(env, payload)
    assert store.position("members") == 0 and dead == []


def test_each_source_is_tracked_separately(store_settings):
    members, meetings = make_source(3, holes=False), Source("meetings")
    from tests.factories import held

    meetings.emit(held(uuid.uuid4(), [(uuid.uuid4(), "official")]))
    app, store = applier(store_settings, members, "two")
    deliver(app, [*members.log, *meetings.log])
    assert (store.position("members"), store.position("meetings")) == (3, 1)


def test_catch_up_applies_what_was_lost_at_the_tail(store_settings):
    src = make_source(8)
    app, store = applier(store_settings, src, "tail")
    deliver(app, src.log[:5])  # the last three messages never arrive
    assert store.position("members") == src.log[4]["position"]
    result = app.catch_up("members")
    assert result.gap_filled == 3
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log]
    assert app.catch_up("members").gap_filled == 0  # nothing more to do


def test_two_appliers_on_one_store_never_apply_twice(store_settings):
    """A replica whose cached position lags (it was standby while another applied) skips, never re-applies."""
    src = make_source(10, holes=False)
    first, store = applier(store_settings, src, "shared")
    second = TrackedApplier("shared", store, project, fetch_range=src.fetch_range, dead_letter=lambda b, r: None)
    deliver(second, src.log[:2])  # second caches position 2
    deliver(first, src.log[2:8])  # first moves the store on to 8
    totals = deliver(second, src.log[8:])  # second believes it missed 3..8: they are refused as duplicates
    assert totals["applied"] == 2 and totals["duplicates"] >= 1
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log]


def test_a_redriven_dead_letter_is_applied_once_after_the_fix(store_settings):
    src = make_source(10, holes=False)
    poison = src.log[4]
    fixed = []

    def picky(sql, envelope, payload):
        if envelope.position == poison["position"] and not fixed:
            raise ValueError("this projection rejects it")
        project(sql, envelope, payload)

    dead = []
    app, store = applier(store_settings, src, "redrive", picky, dead)
    deliver(app, src.log)
    assert len(dead) == 1
    env, payload = parse_event(dead[0][0])
    fixed.append(True)  # the fix is deployed
    assert app.redrive(env, payload).applied == 1
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log]  # now complete
    with store.read() as sql:
        assert sql.execute("SELECT COUNT(*) AS n FROM dead_letters").fetchone()["n"] == 0
    again = app.redrive(env, payload)  # the same message re-driven twice: skipped
    assert (again.applied, again.duplicates) == (0, 1)
    assert len(table(store)) == len(src.log)


def test_a_redrive_that_fails_again_keeps_its_dead_letter_row(store_settings):
    src = make_source(6, holes=False)
    poison = src.log[2]

    def picky(sql, envelope, payload):
        if envelope.position == poison["position"]:
            raise ValueError("still broken")
        project(sql, envelope, payload)

    dead = []
    app, store = applier(store_settings, src, "redrive_fail", picky, dead)
    deliver(app, src.log)
    env, payload = parse_event(dead[0][0])
    with pytest.raises(ValueError, match="still broken"):
        app.redrive(env, payload)
    with store.read() as sql:
        assert sql.execute("SELECT COUNT(*) AS n FROM dead_letters").fetchone()["n"] == 1  # still re-drivable
    assert poison["position"] not in [p for p, _ in table(store)]


# -- batches (handle_many: the messages a consumer finds already delivered, in one transaction) -------------

def batched(app, messages, size):
    """Deliver `messages` in batches of `size` (what the consumer found in its inbox each time)."""
    totals = {"applied": 0, "duplicates": 0, "gap_filled": 0, "dead_lettered": 0}
    for i in range(0, len(messages), size):
        r = app.handle_many([parse_event(m) for m in messages[i:i + size]])
        totals["applied"] += r.applied
        totals["duplicates"] += r.duplicates
        totals["gap_filled"] += r.gap_filled
        totals["dead_lettered"] += len(r.dead_lettered)
    return totals


def counting(store):
    """Wrap `store.tracked` to count the transactions the applier opens."""
    calls = []
    tracked = store.tracked

    def counted(source, position, first=None):
        calls.append((position, first))
        return tracked(source, position, first)

    store.tracked = counted
    return calls


def test_a_batch_ends_like_one_by_one_in_one_transaction(store_settings):
    src = make_source()
    one, one_store = applier(store_settings, src, "one_by_one")
    deliver(one, src.log)
    many, many_store = applier(store_settings, src, "batch")
    calls = counting(many_store)
    totals = batched(many, src.log, 30)
    assert table(many_store) == table(one_store)
    assert totals == {"applied": 30, "duplicates": 0, "gap_filled": 0, "dead_lettered": 0}
    assert calls == [(src.log[-1]["position"], src.log[0]["position"])]  # one transaction for the 30
    assert many_store.position("members") == src.log[-1]["position"]


def test_a_batch_with_a_projection_of_its_own_uses_it(store_settings):
    src = make_source(10)
    seen = []

    def project_many(sql, events):
        seen.append([e.position for e, _ in events])
        for envelope, payload in events:
            project(sql, envelope, payload)

    store = TrackedStore(store_settings, "with_many")
    store.create_tables(DDL)
    app = TrackedApplier("with_many", store, project, src.fetch_range, dead_letter=lambda b, r: None,
                         project_many=project_many)
    batched(app, src.log, 4)
    assert seen == [[e["position"] for e in src.log[i:i + 4]] for i in range(0, 10, 4)]
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log]


def test_duplicates_in_and_before_a_batch_are_skipped(store_settings):
    src = make_source(10, holes=False)
    app, store = applier(store_settings, src, "batch_dup")
    deliver(app, src.log[:4])
    messages = [src.log[2], src.log[3], src.log[4], src.log[5], src.log[5], src.log[4], src.log[6]]
    totals = batched(app, messages, len(messages))
    assert totals == {"applied": 3, "duplicates": 4, "gap_filled": 0, "dead_lettered": 0}
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log[:7]]


def test_a_gap_in_the_middle_of_a_batch_is_filled_in_order(store_settings):
    src = make_source(12, holes=False)
    app, store = applier(store_settings, src, "batch_gap")
    calls = counting(store)
    messages = src.log[:4] + src.log[7:]  # 5..7 never delivered
    totals = batched(app, messages, len(messages))
    assert totals == {"applied": 12, "duplicates": 0, "gap_filled": 3, "dead_lettered": 0}
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log]
    # the run before the gap, the three pulled from the source one by one, the run after it
    assert calls == [(4, 1), (5, None), (6, None), (7, None), (12, 8)]


def test_a_gap_before_a_batch_is_filled_first(store_settings):
    src = make_source(8, holes=False)
    app, store = applier(store_settings, src, "batch_gap_first")
    totals = batched(app, src.log[3:], 5)
    assert totals == {"applied": 8, "duplicates": 0, "gap_filled": 3, "dead_lettered": 0}
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log]


def test_a_transient_error_in_a_batch_raises_with_nothing_committed(store_settings):
    src = make_source(6, holes=False)
    down = [True]

    def flaky(sql, envelope, payload):
        project(sql, envelope, payload)
        if envelope.position == 4 and down:
            raise ConnectionError("database went away")

    dead = []
    app, store = applier(store_settings, src, "batch_flaky", flaky, dead)
    with pytest.raises(ConnectionError):
        batched(app, src.log, 6)
    assert store.position("members") == 0 and table(store) == [] and dead == []
    down.clear()  # the broker delivers the batch again: applied once
    assert batched(app, src.log, 6)["applied"] == 6
    assert [p for p, _ in table(store)] == [e["position"] for e in src.log]


def test_a_batch_overlapping_what_another_replica_applied_is_not_applied_twice(store_settings):
    """The batch's transaction records its first position too: one that another replica passed meanwhile
    refuses the batch, even with a projection that would accept an event twice (no key to collide on)."""
    src = make_source(10, holes=False)
    store = TrackedStore(store_settings, "batch_shared")
    store.create_tables(("CREATE TABLE IF NOT EXISTS seen (position BIGINT NOT NULL)",))

    def lenient(sql, envelope, payload):
        sql.execute("INSERT INTO seen (position) VALUES (?)", (envelope.position,))

    def replica():
        return TrackedApplier("batch_shared", store, lenient, fetch_range=src.fetch_range,
                              dead_letter=lambda b, r: None)

    first, second = replica(), replica()
    batched(second, src.log[:2], 2)  # second caches position 2
    deliver(first, src.log[2:5])  # first moves the store on to 5 (the batch 3..8 overlaps it)
    totals = batched(second, src.log[2:8], 6)
    assert totals["applied"] == 3 and totals["duplicates"] == 3
    with store.read() as sql:
        seen = [r["position"] for r in sql.execute("SELECT position FROM seen ORDER BY position").fetchall()]
    assert seen == [e["position"] for e in src.log[:8]]
