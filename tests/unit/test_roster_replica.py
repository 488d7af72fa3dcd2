"""The roster replica on both back ends: given members events, then the roster of a cell on a date."""

import datetime as dt

import pytest

from services.meetings import roster
from shared.contracts import members as mb
from shared.contracts import parse_event
from shared.stores import TrackedStore
from tests.factories import Source, admitted, unit

D = dt.date


@pytest.fixture
def given(store_settings):
    store = TrackedStore(store_settings, "meetings")
    store.create_tables(roster.DDL)
    src = Source("members")

    def apply(*payloads, org_path=None):
        for p in payloads:
            env, payload = parse_event(src.emit(p, org_path))
            with store.tracked("members", env.position) as sql:
                roster.project(sql, env, payload)

    reader = roster.RosterReader(store)
    yield apply, reader
    store.close()


@pytest.fixture
def cells(given):
    apply, reader = given
    ward = unit("ward", code="W")
    a = unit("cell", parent=ward.unit_id, code="A")
    b = unit("cell", parent=ward.unit_id, code="B")
    apply(ward, org_path=[str(ward.unit_id)])
    apply(a, org_path=[str(ward.unit_id), str(a.unit_id)])
    apply(b, org_path=[str(ward.unit_id), str(b.unit_id)])
    return apply, reader, ward.unit_id, a.unit_id, b.unit_id


def statuses(reader, cell, day):
    return {m.full_name: m.status for m in reader.roster_on(str(cell), day)}


def test_an_official_transfer_moves_the_member_from_the_date(cells):
    apply, reader, _, a, b = cells
    m = admitted(a, "Lan")
    apply(m, mb.MemberTransferred(member_id=m.member_id, from_cell_id=a, to_cell_id=b, kind="official",
                                  effective_from=D(2025, 3, 1), reason="chuyển nơi ở"))
    assert statuses(reader, a, D(2025, 2, 28)) == {"Lan": "official"}
    assert statuses(reader, a, D(2025, 3, 1)) == {}
    assert statuses(reader, b, D(2025, 3, 1)) == {"Lan": "official"}
    assert statuses(reader, b, D(2025, 2, 28)) == {}


def test_officialized_from_its_date(cells):
    apply, reader, _, a, _ = cells
    m = admitted(a, "Hùng", official=False)
    apply(m, mb.MemberOfficialized(member_id=m.member_id, cell_id=a, official_since=D(2021, 2, 5)))
    assert statuses(reader, a, D(2021, 2, 4)) == {"Hùng": "probationary"}
    assert statuses(reader, a, D(2021, 2, 5)) == {"Hùng": "official"}


def test_a_temporary_transfer_marks_the_member_elsewhere_at_home_and_lists_them_at_the_host(cells):
    apply, reader, _, a, b = cells
    m = admitted(a, "Mai")
    apply(m, mb.MemberTransferred(member_id=m.member_id, from_cell_id=a, to_cell_id=b, kind="temporary",
                                  effective_from=D(2025, 4, 1), until=D(2025, 7, 1)))
    assert statuses(reader, a, D(2025, 3, 31)) == {"Mai": "official"}
    assert statuses(reader, a, D(2025, 6, 30)) == {"Mai": "temporarily_elsewhere"}  # `until` is the day back
    assert statuses(reader, a, D(2025, 7, 1)) == {"Mai": "official"}
    assert statuses(reader, b, D(2025, 5, 1)) == {}  # not a member of the host cell ...
    assert [p.full_name for p in reader.temporary_participants(str(b), D(2025, 5, 1))] == ["Mai"]  # ... a participant
    assert reader.temporary_participants(str(b), D(2025, 7, 1)) == []


def test_a_temporary_transfer_can_end_early(cells):
    apply, reader, _, a, b = cells
    m = admitted(a, "Mai")
    apply(m, mb.MemberTransferred(member_id=m.member_id, from_cell_id=a, to_cell_id=b, kind="temporary",
                                  effective_from=D(2025, 4, 1)),
          mb.MemberTemporaryTransferEnded(member_id=m.member_id, cell_id=a, host_cell_id=b,
                                          effective_from=D(2025, 5, 15)))
    assert statuses(reader, a, D(2025, 5, 14)) == {"Mai": "temporarily_elsewhere"}
    assert statuses(reader, a, D(2025, 5, 15)) == {"Mai": "official"}
    assert reader.temporary_participants(str(b), D(2025, 5, 15)) == []


def test_exemption_holds_for_its_period(cells):
    apply, reader, _, a, _ = cells
    m = admitted(a, "Tư")
    apply(m, mb.MemberExempted(member_id=m.member_id, cell_id=a, reason="age", effective_from=D(2025, 1, 1)),
          mb.MemberExemptionLifted(member_id=m.member_id, cell_id=a, effective_from=D(2025, 6, 1)))
    assert statuses(reader, a, D(2024, 12, 31)) == {"Tư": "official"}
    assert statuses(reader, a, D(2025, 3, 1)) == {"Tư": "exempted"}
    assert statuses(reader, a, D(2025, 6, 1)) == {"Tư": "official"}


def test_a_removed_member_leaves_the_roster_from_the_date(cells):
    apply, reader, _, a, _ = cells
    m = admitted(a, "Sáu")
    apply(m, mb.MemberRemoved(member_id=m.member_id, cell_id=a, reason="deceased", effective_from=D(2025, 8, 1)))
    assert statuses(reader, a, D(2025, 7, 31)) == {"Sáu": "official"}
    assert statuses(reader, a, D(2025, 8, 1)) == {}


def test_supervisors_are_assigned_for_a_period(cells):
    apply, reader, _, a, b = cells
    s = admitted(b, "Cấp ủy")
    apply(s, mb.SupervisorAssigned(supervisor_id=s.member_id, cell_id=a, effective_from=D(2024, 1, 1)),
          mb.SupervisorUnassigned(supervisor_id=s.member_id, cell_id=a, effective_from=D(2025, 1, 1)))
    assert reader.supervisors_on(str(a), D(2023, 12, 31)) == []
    assert [x.full_name for x in reader.supervisors_on(str(a), D(2024, 6, 1))] == ["Cấp ủy"]
    assert reader.supervisors_on(str(a), D(2025, 1, 1)) == []


def test_units_are_renamed_moved_merged_and_dissolved(cells):
    apply, reader, ward, a, b = cells
    ward2 = unit("ward", code="W2")
    apply(ward2, org_path=[str(ward2.unit_id)])
    apply(mb.OrgUnitRenamed(unit_id=a, old_name="cell A", new_name="Chi bộ tổ 1", effective_from=D(2025, 1, 1)),
          mb.OrgUnitMoved(unit_id=a, old_parent_id=ward, new_parent_id=ward2.unit_id, effective_from=D(2025, 7, 1)),
          mb.CellsMerged(source_ids=[b], target_id=a, effective_from=D(2025, 9, 1)))
    cell = reader.unit(str(a))
    assert (cell.name, cell.org_path, cell.ended_on) == ("Chi bộ tổ 1", [str(ward2.unit_id), str(a)], None)
    merged = reader.unit(str(b))
    assert (merged.ended_on, merged.merged_into) == (D(2025, 9, 1), str(a))
    apply(mb.CellDissolved(unit_id=a, reason="giải thể", effective_from=D(2026, 1, 1)))
    assert reader.unit(str(a)).ended_on == D(2026, 1, 1)
