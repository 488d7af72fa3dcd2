import datetime as dt
import json
import uuid

import pytest

from shared.contracts import CURRENT, UPCASTERS, ContractError, parse_event
from shared.contracts import members as mb
from tests.factories import Source, admitted, held, unit

# design.md §4, plus DuesCollected and MeetingCorrected (issue 4), OrgUnitMoved and MemberTemporaryTransferEnded
DESIGN_EVENTS = {
    "OrgUnitCreated", "OrgUnitRenamed", "OrgUnitMoved", "CellsMerged", "CellDissolved", "MemberAdmitted",
    "MemberOfficialized", "MemberTransferred", "MemberExempted", "MemberExemptionLifted", "MemberRemoved",
    "SupervisorAssigned", "SupervisorUnassigned", "MeetingScheduled", "MeetingHeld", "MemberAttended",
    "MemberAbsent", "GuestAttended", "AgendaStepCovered", "MemberSpoke", "ResolutionPassed", "ResolutionRejected",
    "ResolutionReviewed", "MeetingClosed", "MeetingCancelled", "DuesCollected", "MeetingCorrected",
    "MemberTemporaryTransferEnded",
}


def test_every_designed_event_has_a_versioned_payload_model():
    assert set(CURRENT) == DESIGN_EVENTS
    assert all(version >= 1 for version, _ in CURRENT.values())


def test_round_trip_is_plain_json():
    source = Source("members")
    cell = unit()
    data = source.emit(cell)
    text = json.dumps(data)  # plain JSON: no kombu/eventsourcing private markers
    assert "__type__" not in text
    envelope, payload = parse_event(json.loads(text))
    assert payload == cell
    assert envelope.position == 1 and envelope.previous_position == 0
    assert envelope.recorded_by == "tester"


def test_meeting_events_parse():
    source = Source("meetings")
    cell_id, m1 = uuid.uuid4(), uuid.uuid4()
    _, payload = parse_event(source.emit(held(cell_id, [(m1, "official")])))
    assert payload.roster[0].member_id == m1


def test_unknown_type_is_rejected_naming_the_field():
    data = Source("members").emit(unit())
    data["type"] = "MemberTeleported"
    with pytest.raises(ContractError) as err:
        parse_event(data)
    assert err.value.field == "type"


def test_invalid_payload_names_the_payload_field():
    data = Source("members").emit(admitted(uuid.uuid4()))
    data["payload"]["admitted_on"] = "not a date"
    with pytest.raises(ContractError) as err:
        parse_event(data)
    assert err.value.field == "payload.admitted_on"


def test_missing_envelope_field_is_named():
    data = Source("members").emit(unit())
    del data["recorded_by"]
    with pytest.raises(ContractError) as err:
        parse_event(data)
    assert err.value.field == "recorded_by"


def test_event_from_the_wrong_source_is_rejected():
    data = Source("meetings").emit(unit())
    with pytest.raises(ContractError) as err:
        parse_event(data)
    assert err.value.field == "source"


def test_newer_version_than_understood_is_rejected():
    data = Source("members").emit(unit())
    data["version"] = CURRENT["OrgUnitCreated"][0] + 1
    with pytest.raises(ContractError, match="newer"):
        parse_event(data)


def test_old_versions_are_upcast_on_read(monkeypatch):
    """A v1 payload is upcast to the current version before validation."""
    monkeypatch.setitem(CURRENT, "CellDissolved", (2, mb.CellDissolved))
    monkeypatch.setitem(UPCASTERS, ("CellDissolved", 1), lambda p: {
        **{k: v for k, v in p.items() if k != "why"}, "reason": p["why"]})
    old = Source("members").emit(mb.CellDissolved(unit_id=uuid.uuid4(), reason="x", effective_from=dt.date(2025, 7, 1)))
    old["payload"] = {"unit_id": old["payload"]["unit_id"], "why": "merged into KP2",
                      "effective_from": "2025-07-01"}
    old["version"] = 1
    _, payload = parse_event(old)
    assert payload.reason == "merged into KP2"


def test_payload_models_are_immutable():
    cell = unit()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        cell.name = "renamed"  # type: ignore[misc]


def test_tallies_cannot_exceed_the_voting_base():
    from shared.contracts.meetings import ResolutionPassed

    with pytest.raises(ValueError, match="exceed"):
        ResolutionPassed(meeting_id=uuid.uuid4(), cell_id=uuid.uuid4(), resolution_id=uuid.uuid4(),
                         kind="ordinary", text="t", votes_for=5, votes_against=1, abstentions=0, voting_base=5,
                         eligible_voters=[], threshold=">1/2")


@pytest.mark.parametrize("bad", [None, [], "text", 42])
def test_non_objects_are_rejected(bad):
    with pytest.raises(ContractError):
        parse_event(bad)


def test_fields_added_for_issue_3_are_optional_so_version_1_payloads_still_parse():
    source = Source("members")
    a, b, m = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    merged = source.emit(mb.CellsMerged(source_ids=[a], target_id=b, effective_from=dt.date(2025, 7, 1)))
    del merged["payload"]["kind"]  # as published before the field existed
    _, payload = parse_event(merged)
    assert payload.kind == "cell"
    moved = source.emit(mb.MemberTransferred(member_id=m, from_cell_id=a, to_cell_id=b, kind="official",
                                             effective_from=dt.date(2025, 7, 1)))
    del moved["payload"]["reason"]
    assert parse_event(moved)[1].reason == ""
    wards = mb.CellsMerged(source_ids=[a], target_id=b, effective_from=dt.date(2025, 7, 1), kind="ward")
    assert parse_event(source.emit(wards))[1].kind == "ward"
