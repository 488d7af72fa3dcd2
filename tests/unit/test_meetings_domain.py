"""Meeting aggregate and the hold-a-meeting command, against a real roster replica (SQLite)."""

import datetime as dt
import uuid

import pytest

from services.meetings import roster
from services.meetings.application import MeetingsApplication
from services.meetings.domain import Meeting
from shared.contracts import parse_event
from shared.errors import DomainError
from shared.stores import TrackedStore
from tests.factories import Source, admitted, ward_with_two_cells

TODAY = dt.date(2026, 11, 23)


def replica(settings, events) -> TrackedStore:
    """A roster replica fed with `events` (envelopes as published)."""
    store = TrackedStore(settings, "meetings")
    store.create_tables(roster.DDL)
    for data in events:
        env, payload = parse_event(data)
        with store.tracked("members", env.position) as sql:
            roster.project(sql, env, payload)
    return store


@pytest.fixture
def world(sqlite_settings):
    """Given: a ward, a cell with three official members and one probationary, all in the replica."""
    src = Source("members")
    ward, cell, other, events = ward_with_two_cells(src)
    members = [admitted(cell.unit_id, f"Member {i}", official=i < 3) for i in range(4)]
    stranger = admitted(other.unit_id, "Stranger")
    events += [src.emit(m) for m in [*members, stranger]]
    store = replica(sqlite_settings, events)
    app = MeetingsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, today=lambda: TODAY)
    return {"store": store, "app": app, "cell": cell.unit_id, "ward": ward.unit_id,
            "members": [m.member_id for m in members], "stranger": stranger.member_id}


def hold(world, **kw):
    m = world["members"]
    args = {
        "roster": roster.RosterReader(world["store"]), "cell_id": world["cell"], "kind": "regular", "topic": None,
        "date": dt.date(2026, 1, 10), "start_time": dt.time(19, 0), "end_time": dt.time(20, 45), "place": "NVH",
        "chair_id": m[0], "minute_taker_id": m[1], "present": m[:3],
        "absent": [{"member_id": m[3], "excused": True, "reason": "ốm"}], "by": "secretary",
    } | kw
    return world["app"].hold_meeting(**args)


def test_held_meeting_freezes_the_roster_and_records_each_attendance(world):
    meeting = hold(world)
    events = world["app"].repository.get(meeting.id).version
    assert events == 5  # Held + 3 attended + 1 absent
    stored = list(world["app"].events.get(meeting.id))
    assert isinstance(stored[0], Meeting.Held)
    statuses = {e["member_id"]: e["status"] for e in stored[0].roster}
    assert statuses[str(world["members"][0])] == "official"
    assert statuses[str(world["members"][3])] == "probationary"
    assert [type(e).__name__ for e in stored[1:]] == ["MemberAttended"] * 3 + ["MemberAbsent"]
    assert all(e.recorded_by == "secretary" and e.cell_id == world["cell"] for e in stored[1:])


def test_roster_is_taken_as_of_the_meeting_date(world):
    # Members were admitted on 2020-02-01: a meeting before that has nobody to summon.
    with pytest.raises(DomainError) as err:
        hold(world, date=dt.date(2020, 1, 15), present=[], absent=[])
    assert err.value.rule == "roster.empty"


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"kind": "thematic"}, "topic", "thematic.topic"),
        ({"date": dt.date(2026, 11, 24)}, "date", "date.not_future"),
        ({"end_time": dt.time(18, 0)}, "end_time", "time.end_after_start"),
        ({"cell_id": uuid.uuid4()}, "cell_id", "cell.exists"),
    ],
)
def test_meeting_rules(world, change, field, rule):
    with pytest.raises(DomainError) as err:
        hold(world, **change)
    assert (err.value.field, err.value.rule) == (field, rule)
    assert world["app"].recorder.max_notification_id() in (None, 0)  # nothing half-applied


def test_a_ward_cannot_hold_a_cell_meeting(world):
    with pytest.raises(DomainError) as err:
        hold(world, cell_id=world["ward"])
    assert err.value.rule == "cell.kind"


def test_attendance_of_a_person_not_in_the_cell_is_refused(world):
    with pytest.raises(DomainError) as err:
        hold(world, present=[*world["members"][:3], world["stranger"]])
    assert (err.value.field, err.value.rule) == ("present.3", "attendance.roster")
    assert world["app"].recorder.max_notification_id() in (None, 0)


def test_duplicate_attendance_is_refused(world):
    m = world["members"]
    with pytest.raises(DomainError) as err:
        hold(world, present=[m[0], m[1], m[2]], absent=[{"member_id": m[2], "excused": False}])
    assert err.value.rule == "attendance.once"


def test_every_summoned_member_must_be_accounted_for(world):
    with pytest.raises(DomainError) as err:
        hold(world, absent=[])
    assert err.value.rule == "attendance.complete"
    assert str(world["members"][3]) in err.value.message


def test_excused_absence_needs_a_reason(world):
    with pytest.raises(DomainError) as err:
        hold(world, absent=[{"member_id": world["members"][3], "excused": True, "reason": " "}])
    assert err.value.field == "absent.0.reason"


def test_chair_must_be_on_the_roster(world):
    with pytest.raises(DomainError) as err:
        hold(world, chair_id=world["stranger"])
    assert err.value.field == "chair_id"


def test_translated_events_are_valid_contracts(world):
    from services.meetings.integration import translate
    from shared.relay import EnvelopeReader

    hold(world)
    items = EnvelopeReader("meetings", world["app"], translate).page(0, 100)
    assert [e.type for e in items] == ["MeetingHeld"] + ["MemberAttended"] * 3 + ["MemberAbsent"]
    for e in items:
        parse_event(e.to_json())
    assert items[-1].payload["excused"] is True and items[-1].payload["reason"] == "ốm"


def test_a_held_event_stored_before_temporary_participants_is_upcast(world):
    app = world["app"]
    meeting = hold(world)
    stored = app.mapper.to_stored_event(next(iter(app.events.get(meeting.id))))
    state = app.mapper.transcoder.decode(stored.state)
    state.pop("temporary_participants")
    state.pop("class_version", None)
    old = type(stored)(originator_id=stored.originator_id, originator_version=stored.originator_version,
                       topic=stored.topic, state=app.mapper.transcoder.encode(state))
    event = app.mapper.to_domain_event(old)
    assert event.temporary_participants == []
