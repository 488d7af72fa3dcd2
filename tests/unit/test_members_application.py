"""The members application on SQLite and PostgreSQL: commands over several aggregates in one transaction,
the published events they produce, and the read model's answers by date."""

import datetime as dt
import uuid

import pytest

from services.members.application import MembersApplication
from services.members.integration import translate
from shared.errors import Conflict, DomainError, NotFound
from shared.relay import EnvelopeReader
from shared.stores import TrackedStore, event_store_env

TODAY = dt.date(2026, 11, 23)
D = dt.date
MERGE_DAY = D(2025, 7, 1)


def make_app(settings):
    return MembersApplication(env=event_store_env(settings, "members"), today=lambda: TODAY,
                              views_store=TrackedStore(settings, "members", "views"))


@pytest.fixture
def app(store_settings):
    app = make_app(store_settings)
    yield app
    app.close()


def published(app, after=0):
    return EnvelopeReader("members", app, translate).page(after, 1000)


def last_position(app):
    return app.recorder.max_notification_id() or 0


def unit(app, kind, code, parent=None, day=D(2020, 1, 1)):
    return app.create_unit(kind=kind, name=f"Đơn vị {code}", code=code, parent_id=parent.id if parent else None,
                           block="residential" if kind == "cell" else None, effective_from=day, by="staff")


def member(app, cell, code, official=True, admitted=D(2020, 3, 1)):
    return app.admit_member(code=code, full_name=f"Đảng viên {code}", cell_id=cell.id, admitted_on=admitted,
                            status="official" if official else "probationary",
                            official_since=D(2021, 3, 1) if official else None, by="staff")


def statuses(app, cell, day):
    return {e["code"]: e["status"] for e in app.roster(cell.id, day)["members"]}


def test_merging_cells_transfers_their_members_in_the_same_transaction(app):
    ward = unit(app, "ward", "W")
    c1, c2, c3, host = (unit(app, "cell", f"W-{i}", ward) for i in range(1, 5))
    for i in range(3):
        member(app, c1, f"A{i}")
    member(app, c2, "B0")
    away = member(app, c2, "B1")
    app.transfer_member(member_id=away.id, to_cell_id=host.id, kind="temporary", effective_from=D(2025, 6, 1),
                        until=D(2025, 9, 1), by="staff")
    before = last_position(app)

    app.merge_units(source_ids=[c1.id, c2.id], target_id=c3.id, effective_from=MERGE_DAY, by="ward-staff",
                    correlation_id="req-merge")

    events = published(app, before)
    assert [e.type for e in events] == ["MemberTransferred"] * 5 + ["CellsMerged"]
    assert all((e.recorded_by, e.correlation_id) == ("ward-staff", "req-merge") for e in events)
    merged = events[-1].payload
    assert merged == {"source_ids": [str(c1.id), str(c2.id)], "target_id": str(c3.id), "kind": "cell",
                      "effective_from": "2025-07-01"}
    transfers = [e.payload for e in events[:-1]]
    assert {(t["from_cell_id"], t["to_cell_id"], t["kind"], t["reason"], t["effective_from"]) for t in transfers} == {
        (str(c1.id), str(c3.id), "official", "merge", "2025-07-01"),
        (str(c2.id), str(c3.id), "official", "merge", "2025-07-01")}
    assert all(e.org_path == [str(ward.id), str(c3.id)] for e in events[:-1])

    assert statuses(app, c1, D(2025, 6, 30)) == {"A0": "official", "A1": "official", "A2": "official"}
    assert statuses(app, c1, MERGE_DAY) == {}
    # the member away keeps the temporary spell; the home is now the merged cell
    assert statuses(app, c3, MERGE_DAY) == {"A0": "official", "A1": "official", "A2": "official",
                                            "B0": "official", "B1": "temporarily_elsewhere"}
    assert statuses(app, host, MERGE_DAY) == {"B1": "temporary"}
    assert app.unit(c1.id)["end_reason"] == "merged" and app.unit(c1.id)["merged_into"] == str(c3.id)
    cells_then = [u["code"] for u in app.units_under(ward.id, D(2025, 6, 30))["units"]]
    cells_now = [u["code"] for u in app.units_under(ward.id, MERGE_DAY)["units"]]
    assert (cells_then, cells_now) == (["W-1", "W-2", "W-3", "W-4"], ["W-3", "W-4"])
    with pytest.raises(DomainError) as err:  # a merged cell takes no new member
        member(app, c1, "Z")
    assert err.value.rule == "unit.ended"


def test_merging_wards_moves_their_units_under_the_target(app):
    city = unit(app, "city", "HN")
    w1, w2 = unit(app, "ward", "W1", city), unit(app, "commune", "X2", city)
    cells = [unit(app, "cell", f"W1-{i}", w1) for i in range(2)]
    m = member(app, cells[0], "M1")
    before = last_position(app)

    app.merge_units(source_ids=[w1.id], target_id=w2.id, effective_from=MERGE_DAY, by="staff")

    events = published(app, before)
    assert [e.type for e in events] == ["OrgUnitMoved", "OrgUnitMoved", "CellsMerged"]
    assert {(e.payload["unit_id"], e.payload["old_parent_id"], e.payload["new_parent_id"]) for e in events[:2]} == {
        (str(c.id), str(w1.id), str(w2.id)) for c in cells}
    assert events[-1].payload["kind"] == "commune"
    tree = app.tree(MERGE_DAY)["units"]
    assert [(u["code"], [k["code"] for k in u["children"]]) for u in tree[0]["children"]] == [("X2", ["W1-0", "W1-1"])]
    old = app.tree(D(2025, 6, 30), root=city.id)["units"][0]["children"]
    assert [(u["code"], len(u["children"])) for u in old] == [("W1", 2), ("X2", 0)]
    # later events of the moved cell's members carry the new path
    app.exempt_member(member_id=m.id, reason="age", note="", effective_from=D(2025, 8, 1), by="staff")
    assert published(app, last_position(app) - 1)[0].org_path == [str(city.id), str(w2.id), str(cells[0].id)]
    assert app.unit(cells[0].id)["org_path"] == [str(city.id), str(w2.id), str(cells[0].id)]


def test_a_merge_one_member_refuses_records_nothing(app):
    ward = unit(app, "ward", "W")
    c1, c2 = unit(app, "cell", "W-1", ward), unit(app, "cell", "W-2", ward)
    member(app, c1, "A")
    late = member(app, c1, "B")
    app.exempt_member(member_id=late.id, reason="health", note="", effective_from=D(2025, 8, 1), by="staff")
    before = last_position(app)
    with pytest.raises(DomainError) as err:
        app.merge_units(source_ids=[c1.id], target_id=c2.id, effective_from=MERGE_DAY, by="staff")
    assert (err.value.field, err.value.rule) == ("effective_from", "member.date_order")
    assert "Đảng viên B" in err.value.message
    assert last_position(app) == before
    assert app.unit(c1.id)["ended_on"] is None


def test_merge_and_dissolve_refusals_name_the_field(app):
    ward = unit(app, "ward", "W")
    c1 = unit(app, "cell", "W-1", ward)
    member(app, c1, "A")
    before = last_position(app)
    with pytest.raises(DomainError) as err:
        app.merge_units(source_ids=[c1.id], target_id=c1.id, effective_from=MERGE_DAY, by="staff")
    assert err.value.rule == "merge.into_itself"
    with pytest.raises(NotFound) as err:
        app.merge_units(source_ids=[uuid.uuid4()], target_id=c1.id, effective_from=MERGE_DAY, by="staff")
    assert err.value.field == "source_ids"
    with pytest.raises(DomainError) as err:
        app.dissolve_unit(unit_id=c1.id, reason="", effective_from=MERGE_DAY, by="staff")
    assert (err.value.field, err.value.rule) == ("unit_id", "unit.not_empty")
    with pytest.raises(DomainError) as err:
        app.dissolve_unit(unit_id=ward.id, reason="", effective_from=MERGE_DAY, by="staff")
    assert err.value.rule == "unit.not_empty"
    with pytest.raises(DomainError) as err:
        app.dissolve_unit(unit_id=ward.id, reason="", effective_from=D(2019, 1, 1), by="staff")
    assert (err.value.field, err.value.rule) == ("effective_from", "unit.before_created")
    assert last_position(app) == before


def test_dissolving_an_empty_unit(app):
    ward = unit(app, "ward", "W")
    c1, c2 = unit(app, "cell", "W-1", ward), unit(app, "cell", "W-2", ward)
    m = member(app, c1, "A")
    app.transfer_member(member_id=m.id, to_cell_id=c2.id, kind="official", effective_from=D(2025, 1, 1), by="staff")
    app.dissolve_unit(unit_id=c1.id, reason="không còn đảng viên", effective_from=D(2025, 2, 1), by="staff")
    [e] = published(app, last_position(app) - 1)
    assert (e.type, e.payload["reason"]) == ("CellDissolved", "không còn đảng viên")
    assert [u["code"] for u in app.units_under(ward.id, D(2025, 2, 1))["units"]] == ["W-2"]
    assert [u["code"] for u in app.units_under(ward.id, D(2025, 1, 31))["units"]] == ["W-1", "W-2"]


def test_a_roster_follows_each_member_through_time(app):
    ward = unit(app, "ward", "W")
    home, host = unit(app, "cell", "W-1", ward), unit(app, "cell", "W-2", ward)
    p = member(app, home, "P", official=False, admitted=D(2024, 1, 10))
    e = member(app, home, "E")
    t = member(app, home, "T")
    r = member(app, home, "R")
    app.confirm_member(member_id=p.id, official_since=D(2025, 1, 10), by="staff")
    app.exempt_member(member_id=e.id, reason="age", note="80 tuổi", effective_from=D(2025, 2, 1), by="staff")
    app.transfer_member(member_id=t.id, to_cell_id=host.id, kind="temporary", effective_from=D(2025, 3, 1),
                        until=D(2025, 6, 1), by="staff")
    app.remove_member(member_id=r.id, reason="moved_away", note="", effective_from=D(2025, 4, 1), by="staff")
    app.lift_exemption(member_id=e.id, effective_from=D(2025, 5, 1), by="staff")

    assert statuses(app, home, D(2024, 12, 31)) == {"P": "probationary", "E": "official", "T": "official",
                                                    "R": "official"}
    assert statuses(app, home, D(2025, 3, 15)) == {"P": "official", "E": "exempted", "T": "temporarily_elsewhere",
                                                   "R": "official"}
    assert statuses(app, host, D(2025, 3, 15)) == {"T": "temporary"}
    assert statuses(app, home, D(2025, 6, 1)) == {"P": "official", "E": "official", "T": "official"}
    assert statuses(app, host, D(2025, 6, 1)) == {}
    state = app.member(r.id)
    assert state["active"] is False and state["removal"] == {"reason": "moved_away", "note": "", "on": "2025-04-01"}
    types = [e.type for e in published(app)][-5:]
    assert types == ["MemberOfficialized", "MemberExempted", "MemberTransferred", "MemberRemoved",
                     "MemberExemptionLifted"]


def test_confirmation_before_the_probation_needs_a_reason(app):
    ward = unit(app, "ward", "W")
    c = unit(app, "cell", "W-1", ward)
    p = member(app, c, "P", official=False, admitted=D(2025, 1, 10))
    with pytest.raises(DomainError) as err:
        app.confirm_member(member_id=p.id, official_since=D(2025, 11, 1), by="staff")
    assert err.value.rule == "member.probation_length"
    app.confirm_member(member_id=p.id, official_since=D(2025, 11, 1), override_reason="QĐ số 12", by="staff")
    [e] = published(app, last_position(app) - 1)
    assert e.payload["override_reason"] == "QĐ số 12" and e.payload["cell_id"] == str(c.id)


def test_cell_health_flags_small_cells_and_cells_needing_a_committee(app):
    ward = unit(app, "ward", "W")
    small, big, other_ward_cell = unit(app, "cell", "W-1", ward), unit(app, "cell", "W-2", ward), None
    other = unit(app, "ward", "V")
    other_ward_cell = unit(app, "cell", "V-1", other)
    for i in range(2):
        member(app, small, f"S{i}")
    member(app, small, "SP", official=False)
    for i in range(9):
        member(app, big, f"B{i}")
    health = app.cell_health(ward.id, D(2025, 1, 1))
    assert [(c["code"], c["official_members"], c["merger_candidate"], c["needs_committee"]) for c in health["cells"]] \
        == [("W-1", 2, True, False), ("W-2", 9, False, True)]
    assert health["merger_candidates"] == [str(small.id)] and health["committee_cells"] == [str(big.id)]
    assert (health["min_official_members"], health["committee_official_members"]) == (3, 9)
    assert health["policy_version"] == "2021.1"
    everywhere = app.cell_health(None, D(2025, 1, 1))
    assert str(other_ward_cell.id) in everywhere["merger_candidates"]
    # before anyone was official, every cell is a candidate for merger
    assert len(app.cell_health(ward.id, D(2020, 6, 1))["merger_candidates"]) == 2


def test_supervisors_by_date(app):
    ward = unit(app, "ward", "W")
    c = unit(app, "cell", "W-1", ward)
    sup = member(app, c, "S")
    app.assign_supervisor(supervisor_id=sup.id, cell_id=c.id, effective_from=D(2025, 1, 1), by="staff")
    app.unassign_supervisor(supervisor_id=sup.id, cell_id=c.id, effective_from=D(2025, 6, 1), by="staff")
    assert [s["code"] for s in app.supervisors(c.id, D(2025, 3, 1))["supervisors"]] == ["S"]
    assert app.supervisors(c.id, D(2025, 6, 1))["supervisors"] == []
    types = [e.type for e in published(app)][-2:]
    assert types == ["SupervisorAssigned", "SupervisorUnassigned"]
    with pytest.raises(NotFound) as err:
        app.assign_supervisor(supervisor_id=uuid.uuid4(), cell_id=c.id, effective_from=D(2025, 7, 1), by="staff")
    assert err.value.field == "supervisor_id"


def test_histories_say_who_recorded_what_when(app):
    ward = unit(app, "ward", "W")
    c = unit(app, "cell", "W-1", ward)
    app.rename_unit(unit_id=c.id, name="Chi bộ Mới", effective_from=D(2025, 7, 1), by="secretary",
                    correlation_id="req-9")
    history = app.unit_history(c.id)["events"]
    assert [(h["type"], h["version"], h["recorded_by"]) for h in history] == [("Created", 1, "staff"),
                                                                              ("Renamed", 2, "secretary")]
    assert history[1]["correlation_id"] == "req-9"
    assert history[1]["data"] == {"old_name": "Đơn vị W-1", "new_name": "Chi bộ Mới", "effective_from": D(2025, 7, 1)}
    m = member(app, c, "A")
    assert [h["type"] for h in app.member_history(m.id)["events"]] == ["Admitted"]


def test_lookups_by_code(app):
    ward = unit(app, "ward", "W")
    c = unit(app, "cell", "W-1", ward)
    m = member(app, c, "A-1")
    assert app.unit_by_code("w-1").id == c.id and app.member_by_code(" A-1 ").id == m.id
    assert app.unit_by_code("nope") is None and app.member_by_code("W-1") is None


def test_a_concurrent_change_of_the_same_member_loses_with_409_and_records_nothing(app, store_settings):
    ward = unit(app, "ward", "W")
    c1, c2 = unit(app, "cell", "W-1", ward), unit(app, "cell", "W-2", ward)
    m = member(app, c1, "A")
    other = make_app(store_settings)
    try:
        mine, theirs = app.repository.get(m.id), other.repository.get(m.id)
        mine.exempt(reason="age", note="", effective_from=D(2025, 1, 1), today=TODAY, org_path=[], by="a",
                    correlation_id=None)
        theirs.transfer(to_cell=other.repository.get(c2.id), kind="official", effective_from=D(2025, 1, 1),
                        until=None, today=TODAY, org_path=[], by="b", correlation_id=None)
        app.record(mine)
        before = last_position(app)
        with pytest.raises(Conflict):
            other.record(theirs)
        assert last_position(app) == before
        # a form loaded before the change is refused too
        with pytest.raises(Conflict) as err:
            other.transfer_member(member_id=m.id, to_cell_id=c2.id, kind="official", effective_from=D(2025, 2, 1),
                                  expected_version=1, by="b")
        assert err.value.field == "expected_version"
        # and the read model of a second process sharing the database answers the same
        assert statuses(other, c1, D(2025, 1, 1)) == {"A": "exempted"}
    finally:
        other.close()


def test_moving_a_unit_checks_the_parent_kind_and_the_date(app):
    city = unit(app, "city", "HN")
    district = unit(app, "district", "ML", city)
    ward = unit(app, "ward", "TG", district)
    with pytest.raises(DomainError) as err:
        app.move_unit(unit_id=ward.id, new_parent_id=ward.id, effective_from=MERGE_DAY, by="staff")
    assert err.value.rule == "tree.cycle"
    app.move_unit(unit_id=ward.id, new_parent_id=city.id, effective_from=MERGE_DAY, by="staff", expected_version=1)
    app.dissolve_unit(unit_id=district.id, reason="QĐ 294", effective_from=MERGE_DAY, by="staff")
    before = app.tree(D(2025, 6, 30))["units"][0]
    after = app.tree(MERGE_DAY)["units"][0]
    assert [(u["code"], [k["code"] for k in u["children"]]) for u in before["children"]] == [("ML", ["TG"])]
    assert [(u["code"], u["children"]) for u in after["children"]] == [("TG", [])]


def test_an_early_return_ends_the_spell_in_both_rosters(app):
    ward = unit(app, "ward", "W")
    home, host = unit(app, "cell", "W-1", ward), unit(app, "cell", "W-2", ward)
    t = member(app, home, "T")
    app.transfer_member(member_id=t.id, to_cell_id=host.id, kind="temporary", effective_from=D(2025, 3, 1),
                        until=D(2025, 9, 1), by="staff")
    app.end_temporary_transfer(member_id=t.id, effective_from=D(2025, 5, 1), expected_version=2, by="staff")
    [e] = published(app, last_position(app) - 1)
    assert (e.type, e.payload["cell_id"], e.payload["host_cell_id"]) == ("MemberTemporaryTransferEnded",
                                                                         str(home.id), str(host.id))
    assert statuses(app, home, D(2025, 4, 30)) == {"T": "temporarily_elsewhere"}
    assert statuses(app, home, D(2025, 5, 1)) == {"T": "official"}
    assert statuses(app, host, D(2025, 5, 1)) == {}


def test_two_processes_catching_up_at_once_apply_each_event_once(app, store_settings):
    ward = unit(app, "ward", "W")
    c = unit(app, "cell", "W-1", ward)
    member(app, c, "A")
    other = make_app(store_settings)
    try:
        other.views.catch_up()
        member(app, c, "B")
        app.views.catch_up()  # this process applies B first...
        # ...while the other one had read its position before that commit: it tries the same batch again
        real, stale = other._views.store.position, [0]
        other._views.store.position = lambda source: stale.pop() if stale else real(source)
        assert other._views.catch_up() == 0 and not stale
        roster = other.roster(c.id, D(2025, 1, 1))["members"]
        assert sorted(m["code"] for m in roster) == ["A", "B"]
    finally:
        other.close()


def test_a_removed_member_stops_following_cells_in_the_same_transaction(app):
    ward = unit(app, "ward", "W")
    c1, c2 = unit(app, "cell", "W-1", ward), unit(app, "cell", "W-2", ward)
    sup = member(app, c1, "S")
    for c in (c1, c2):
        app.assign_supervisor(supervisor_id=sup.id, cell_id=c.id, effective_from=D(2025, 1, 1), by="staff")
    with pytest.raises(DomainError) as err:  # dated before an assignment began: refused, nothing recorded
        before = last_position(app)
        app.remove_member(member_id=sup.id, reason="deceased", note="", effective_from=D(2024, 12, 1), by="staff")
    assert err.value.rule == "supervisor.date_order" and last_position(app) == before
    before = last_position(app)
    app.remove_member(member_id=sup.id, reason="deceased", note="", effective_from=D(2025, 5, 1), by="staff")
    assert [e.type for e in published(app, before)] == ["MemberRemoved", "SupervisorUnassigned",
                                                        "SupervisorUnassigned"]
    assert app.supervisors(c2.id, D(2025, 5, 1))["supervisors"] == []
    assert len(app.supervisors(c2.id, D(2025, 4, 30))["supervisors"]) == 1


def test_a_member_admitted_while_a_merge_is_under_way_makes_the_merge_retry_not_miss_them(app, store_settings):
    ward = unit(app, "ward", "W")
    c1, c2 = unit(app, "cell", "W-1", ward), unit(app, "cell", "W-2", ward)
    member(app, c1, "A")
    other = make_app(store_settings)
    try:
        views = app._views
        read = views.members_from

        def meanwhile(cell_id, day):  # another process admits into the source after the merge read its members
            found = read(cell_id, day)
            if not other.member_by_code("LATE"):
                member(other, other.repository.get(c1.id), "LATE")
            return found

        views.members_from = meanwhile
        before = last_position(app)
        with pytest.raises(Conflict):
            app.merge_units(source_ids=[c1.id], target_id=c2.id, effective_from=MERGE_DAY, by="staff")
        assert [e.type for e in published(app, before)] == ["MemberAdmitted"]  # the admission, not the merge
        views.members_from = read
        app.merge_units(source_ids=[c1.id], target_id=c2.id, effective_from=MERGE_DAY, by="staff")  # the retry
        assert statuses(app, c2, MERGE_DAY) == {"A": "official", "LATE": "official"}
        with pytest.raises(DomainError) as err:  # and an admission arriving after the merge is refused
            member(other, other.repository.get(c1.id), "LATER")
        assert err.value.rule == "unit.ended"
    finally:
        other.close()
