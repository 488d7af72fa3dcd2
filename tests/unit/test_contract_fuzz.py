"""Arbitrary messages never break a consumer (issue 7, "Bad input"): the contract parser refuses anything that
is not a valid event with a ContractError naming the field, and a valid event that the projection cannot use
is dead-lettered with its reason while the stream goes on."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reporting.compliance import projection, schema
from shared.consumer import TrackedApplier
from shared.contracts import ContractError, parse_event
from shared.contracts import meetings as mt
from shared.stores import TrackedStore
from tests.factories import Source, held

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)


def valid_events() -> list[dict]:
    """One valid meetings event of several types, to mutate."""
    src = Source("meetings")
    cell, member = uuid.uuid4(), uuid.uuid4()
    meeting = held(cell, [(member, "official")], dt.date(2025, 3, 10))
    return [src.emit(meeting),
            src.emit(mt.MemberAttended(meeting_id=meeting.meeting_id, cell_id=cell, member_id=member,
                                       status="official")),
            src.emit(mt.DuesCollected(meeting_id=meeting.meeting_id, cell_id=cell, member_id=member,
                                      month="2025-03", paid=True))]


@settings(max_examples=300, deadline=None)
@given(data=JSON)
def test_arbitrary_json_is_a_contract_error_never_a_crash(data):
    with contextlib.suppress(ContractError):  # any other exception fails the test
        parse_event(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 2), where=st.sampled_from(["envelope", "payload"]), key=st.text(max_size=12),
       value=JSON, pick_existing=st.booleans())
def test_mutated_events_are_refused_or_dead_lettered_and_the_stream_goes_on(tmp_path_factory, which, where, key,
                                                                            value, pick_existing):
    from shared.config import StoreSettings

    events = valid_events()
    target = events[which] if where == "envelope" else events[which]["payload"]
    if pick_existing:
        key = sorted(target)[len(key) % len(target)]
    target[key] = value
    store = TrackedStore(StoreSettings(kind="sqlite", data_dir=str(tmp_path_factory.mktemp("c"))), "reporting")
    store.create_tables(schema.DDL)
    dead: list[str] = []
    applier = TrackedApplier("reporting", store, projection.project, lambda s, a, b: [],
                             dead_letter=lambda body, reason: dead.append(reason), max_tries=1)
    parsed = []
    for data in events:
        try:
            envelope, payload = parse_event(data)
        except ContractError:
            continue  # the consumer dead-letters an undecodable message before it reaches the applier
        parsed.append(envelope.position)
        applier.handle(envelope, payload)
    # whatever happened to the mutated event (refused, applied, or dead-lettered with its reason), the stream
    # went on to the last event that could be read
    assert store.position("meetings") == max(parsed, default=0)
    assert all(reason for reason in dead)
    store.close()


def test_an_integer_no_store_can_hold_is_a_contract_error_naming_the_field():
    """Found by the test above: a position of 2**63 passed the contract and overflowed SQLite's INTEGER inside the
    tracked transaction (an OverflowError, not a dead letter). Every integer of a contract is now bounded by the
    stores' 64-bit integers."""
    events = valid_events()
    cases = [(events[1], "position"), (events[1], "stream_version"), (events[1], "previous_position")]
    for data, name in cases:
        bad = {**data, name: 2**63}
        try:
            parse_event(bad)
        except ContractError as exc:
            assert exc.field == name
        else:
            raise AssertionError(f"{name}=2**63 was accepted")
        parse_event({**data, name: 2**63 - 1})  # the largest a store holds is still an event
