"""Members aggregates: given events, when a command, then events (or a refusal that records nothing)."""

import datetime as dt

import pytest

from services.members.application import MembersApplication
from services.members.domain import Member, OrgUnit, admit_member, create_unit
from services.members.timeline import add_months
from shared.errors import Conflict, DomainError, NotFound

TODAY = dt.date(2026, 11, 23)


def ward(**kw):
    return create_unit(kind="ward", name="Phường Tân Giang", code="TG", parent=None, block=None,
                       effective_from=dt.date(2020, 1, 1), by="staff", **kw)


def cell(parent, **kw):
    args = {"kind": "cell", "name": "Chi bộ 1", "code": "TG-1", "parent": parent, "block": "residential",
            "effective_from": dt.date(2020, 1, 1), "by": "staff"} | kw
    return create_unit(**args)


def test_creating_a_unit_records_one_created_event_with_its_path_and_author():
    w = ward(correlation_id="req-1")
    c = cell(w)
    [event] = c.collect_events()
    assert isinstance(event, OrgUnit.Created)
    assert event.org_path == [str(w.id), str(c.id)]
    assert (event.recorded_by, event.correlation_id) == ("staff", None)
    assert w.collect_events()[0].correlation_id == "req-1"


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"block": None}, "block", "cell.block_required"),
        ({"effective_from": dt.date(2019, 12, 31)}, "effective_from", "unit.after_parent"),
        ({"kind": "district"}, "parent_id", "tree.parent_kind"),  # a district under a ward
    ],
)
def test_unit_rules(kwargs, field, rule):
    with pytest.raises(DomainError) as err:
        cell(ward(), **kwargs)
    assert (err.value.field, err.value.rule) == (field, rule)


def test_a_cell_cannot_be_a_root_or_stand_under_a_cell():
    with pytest.raises(DomainError, match="cannot stand under"):
        cell(None)
    with pytest.raises(DomainError, match="cannot stand under"):
        cell(cell(ward()), code="X")


def test_only_cells_have_a_block():
    with pytest.raises(DomainError) as err:
        create_unit(kind="ward", name="W", code="W", parent=None, block="residential",
                    effective_from=dt.date(2020, 1, 1), by="s")
    assert err.value.field == "block"


def admit(c, **kw):
    args = {"code": "M1", "full_name": "  Nguyễn   Văn An ", "cell": c, "admitted_on": dt.date(2024, 1, 10),
            "status": "probationary", "official_since": None, "today": TODAY, "probation_months": 12,
            "by": "staff"} | kw
    return admit_member(**args)


def test_admission_records_the_member_in_the_cell_with_a_clean_name():
    c = cell(ward())
    m = admit(c)
    [event] = m.collect_events()
    assert isinstance(event, Member.Admitted)
    assert (event.full_name, event.cell_id, event.status) == ("Nguyễn Văn An", c.id, "probationary")
    assert event.org_path == c.org_path


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"admitted_on": dt.date(2026, 11, 24)}, "admitted_on"),  # future
        ({"admitted_on": dt.date(2019, 1, 1)}, "admitted_on"),  # before the cell existed
        ({"status": "official"}, "official_since"),  # official without a date
        ({"status": "official", "official_since": dt.date(2024, 12, 1)}, "official_since"),  # probation < 12m
        ({"official_since": dt.date(2025, 2, 1)}, "official_since"),  # probationary with an official date
        ({"status": "expelled"}, "status"),
    ],
)
def test_admission_rules(kwargs, field):
    with pytest.raises(DomainError) as err:
        admit(cell(ward()), **kwargs)
    assert err.value.field == field


def test_official_member_after_full_probation_is_accepted():
    m = admit(cell(ward()), status="official", official_since=dt.date(2025, 1, 10))
    assert m.status == "official"


def test_members_belong_to_cells_only():
    with pytest.raises(DomainError) as err:
        admit(ward())
    assert err.value.rule == "member.cell_kind"


def test_add_months_clamps_to_month_end():
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 11, 30), 12) == dt.date(2025, 11, 30)


@pytest.fixture
def app():
    return MembersApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, today=lambda: TODAY)


def test_codes_are_unique_and_a_refused_command_records_nothing(app):
    w = app.create_unit(kind="ward", name="W", code="TG", parent_id=None, block=None,
                        effective_from=dt.date(2020, 1, 1), by="s")
    before = app.recorder.max_notification_id()
    with pytest.raises(Conflict) as err:
        app.create_unit(kind="ward", name="W2", code="tg", parent_id=None, block=None,
                        effective_from=dt.date(2020, 1, 1), by="s")
    assert err.value.field == "code"
    assert app.recorder.max_notification_id() == before
    c = app.create_unit(kind="cell", name="C", code="TG-1", parent_id=w.id, block="residential",
                        effective_from=dt.date(2020, 1, 1), by="s")
    app.admit_member(code="M1", full_name="A", cell_id=c.id, admitted_on=dt.date(2024, 1, 1), by="s")
    with pytest.raises(Conflict):
        app.admit_member(code="M1", full_name="B", cell_id=c.id, admitted_on=dt.date(2024, 1, 1), by="s")


def test_unknown_parent_and_cell_are_not_found(app):
    import uuid

    with pytest.raises(NotFound) as err:
        app.create_unit(kind="cell", name="C", code="C", parent_id=uuid.uuid4(), block="residential",
                        effective_from=dt.date(2020, 1, 1), by="s")
    assert err.value.field == "parent_id"
    with pytest.raises(NotFound) as err:
        app.admit_member(code="M", full_name="A", cell_id=uuid.uuid4(), admitted_on=dt.date(2024, 1, 1), by="s")
    assert err.value.field == "cell_id"
    assert app.recorder.max_notification_id() in (None, 0)


# --- the tree: rename, move, merge, dissolve, supervision ------------------------------------------------

D = dt.date


def units(*specs):
    """A little tree: each spec (kind, code, parent index or None); returns the units and a lookup by id."""
    made = []
    for kind, code, parent in specs:
        p = made[parent] if parent is not None else None
        made.append(create_unit(kind=kind, name=code, code=code, parent=p, block="residential" if kind == "cell"
                                else None, effective_from=D(2020, 1, 1), by="s"))
    for u in made:
        u.collect_events()
    index = {u.id: u for u in made}
    return made, index.get


def test_rename_records_old_and_new_name_and_keeps_the_timeline():
    [w], _ = units(("ward", "W", None))
    w.rename(name=" Phường  Mới ", effective_from=D(2025, 7, 1), today=TODAY, org_path=[str(w.id)], by="s",
             correlation_id="c")
    [e] = w.collect_events()
    assert isinstance(e, OrgUnit.Renamed)
    assert (e.old_name, e.new_name, e.recorded_by, e.correlation_id) == ("W", "Phường Mới", "s", "c")
    assert (w.name_on(D(2025, 6, 30)), w.name_on(D(2025, 7, 1))) == ("W", "Phường Mới")


@pytest.mark.parametrize(
    ("name", "day", "field", "rule"),
    [
        ("W", D(2025, 1, 1), "name", "unit.same_name"),
        ("X", D(2019, 12, 31), "effective_from", "unit.before_created"),
        ("X", D(2026, 11, 24), "effective_from", "date.not_future"),
    ],
)
def test_rename_rules(name, day, field, rule):
    [w], _ = units(("ward", "W", None))
    with pytest.raises(DomainError) as err:
        w.rename(name=name, effective_from=day, today=TODAY, org_path=[], by="s", correlation_id=None)
    assert (err.value.field, err.value.rule) == (field, rule)
    assert w.collect_events() == []


def test_changes_are_recorded_in_date_order():
    [w], _ = units(("ward", "W", None))
    w.rename(name="X", effective_from=D(2025, 7, 1), today=TODAY, org_path=[], by="s", correlation_id=None)
    with pytest.raises(DomainError) as err:
        w.rename(name="Y", effective_from=D(2025, 6, 1), today=TODAY, org_path=[], by="s", correlation_id=None)
    assert err.value.rule == "unit.date_order"


def test_move_under_a_new_parent_from_a_date():
    (city, district, ward), get = units(("city", "HN", None), ("district", "ML", 0), ("ward", "TG", 1))
    ward.move(new_parent=city, effective_from=D(2025, 7, 1), today=TODAY, get_unit=get, org_path=["x"], by="s",
              correlation_id=None)
    [e] = ward.collect_events()
    assert (e.old_parent_id, e.new_parent_id) == (district.id, city.id)
    assert (ward.parent_on(D(2025, 6, 30)), ward.parent_on(D(2025, 7, 1))) == (district.id, city.id)


def test_a_move_that_would_make_a_cycle_is_refused():
    (w, b), get = units(("ward", "W", None), ("base_organisation", "B", 0))
    # a ward cannot stand under a base organisation anyway: the kind rule answers first
    with pytest.raises(DomainError) as err:
        w.move(new_parent=b, effective_from=D(2025, 1, 1), today=TODAY, get_unit=get, org_path=[], by="s",
               correlation_id=None)
    assert err.value.rule == "tree.parent_kind"
    with pytest.raises(DomainError) as err:
        b.move(new_parent=b, effective_from=D(2025, 1, 1), today=TODAY, get_unit=get, org_path=[], by="s",
               correlation_id=None)
    assert err.value.rule == "tree.cycle"


def test_kinds_alone_keep_the_tree_acyclic_and_a_backdated_move_is_checked_on_every_later_day(monkeypatch):
    # With today's kinds no unit may stand under its own kind, so a cycle needs nesting of one kind: allow
    # base organisations under base organisations (đảng bộ bộ phận) to exercise the dated cycle check.
    from services.members import domain

    monkeypatch.setitem(domain.ALLOWED_PARENTS, "base_organisation", (None, "base_organisation"))
    (b1, b2, b3), get = units(("base_organisation", "B1", None), ("base_organisation", "B2", None),
                              ("base_organisation", "B3", None))
    args = {"today": TODAY, "get_unit": get, "org_path": [], "by": "s", "correlation_id": None}
    b2.move(new_parent=b1, effective_from=D(2024, 1, 1), **args)
    b2.move(new_parent=b3, effective_from=D(2025, 1, 1), **args)
    # today B1 is not above B2, but from 2024-06-01 to 2025-01-01 B2 stood under B1: a cycle on those days
    with pytest.raises(DomainError) as err:
        b1.move(new_parent=b2, effective_from=D(2024, 6, 1), **args)
    assert (err.value.field, err.value.rule) == ("new_parent_id", "tree.cycle")
    b1.move(new_parent=b2, effective_from=D(2025, 1, 1), **args)  # from the day B2 left B1: no cycle
    with pytest.raises(DomainError) as err:
        b3.move(new_parent=b1, effective_from=D(2025, 2, 1), **args)  # B1 -> B2 -> B3 -> B1
    assert err.value.rule == "tree.cycle"


def test_move_rules():
    (w1, w2, cell), get = units(("ward", "W1", None), ("ward", "W2", None), ("cell", "C", 0))
    for parent, day, rule in [
        (w1, D(2025, 1, 1), "unit.same_parent"),
        (w2, D(2019, 1, 1), "unit.before_created"),
    ]:
        with pytest.raises(DomainError) as err:
            cell.move(new_parent=parent, effective_from=day, today=TODAY, get_unit=get, org_path=[], by="s",
                      correlation_id=None)
        assert err.value.rule == rule
    w2.dissolve(reason="", effective_from=D(2024, 1, 1), today=TODAY, org_path=[], by="s", correlation_id=None)
    with pytest.raises(DomainError) as err:
        cell.move(new_parent=w2, effective_from=D(2025, 1, 1), today=TODAY, get_unit=get, org_path=[], by="s",
                  correlation_id=None)
    assert (err.value.field, err.value.rule) == ("new_parent_id", "unit.ended")


def test_merge_ends_the_sources_and_the_target_records_them():
    (w, c1, c2, c3), _ = units(("ward", "W", None), ("cell", "C1", 0), ("cell", "C2", 0), ("cell", "C3", 0))
    c3.absorb(sources=[c1, c2], effective_from=D(2025, 7, 1), today=TODAY, ancestors=[w.id], org_path=[], by="s",
              correlation_id=None)
    for s in (c1, c2):
        s.merge_into(target=c3, effective_from=D(2025, 7, 1), today=TODAY, org_path=[], by="s", correlation_id=None)
    [absorbed] = c3.collect_events()
    assert (absorbed.source_ids, absorbed.kind) == ([c1.id, c2.id], "cell")
    assert not c1.exists_on(D(2025, 7, 1)) and c1.exists_on(D(2025, 6, 30)) and c1.merged_into == c3.id
    with pytest.raises(DomainError) as err:
        c1.rename(name="Z", effective_from=D(2025, 8, 1), today=TODAY, org_path=[], by="s", correlation_id=None)
    assert err.value.rule == "unit.ended"


@pytest.mark.parametrize(
    ("sources", "target", "field", "rule"),
    [
        ([1, 1], 2, "source_ids", "merge.duplicate_source"),
        ([1, 2], 2, "target_id", "merge.into_itself"),
        ([0], 3, "source_ids", "merge.same_kind"),  # a ward into a cell
        ([], 2, "source_ids", "merge.no_source"),
        ([0], 4, "target_id", "tree.cycle"),  # a ward into a base organisation standing under it
    ],
)
def test_merge_rules(sources, target, field, rule):
    made, _ = units(("ward", "W", None), ("cell", "C1", 0), ("cell", "C2", 0), ("cell", "C3", 0),
                    ("base_organisation", "B", 0))
    tgt = made[target]
    with pytest.raises(DomainError) as err:
        tgt.absorb(sources=[made[i] for i in sources], effective_from=D(2025, 7, 1), today=TODAY,
                   ancestors=[made[0].id] if target else [], org_path=[], by="s", correlation_id=None)
    assert (err.value.field, err.value.rule) == (field, rule)


def test_dissolve_then_nothing_more():
    [w], _ = units(("ward", "W", None))
    w.dissolve(reason="sáp nhập", effective_from=D(2025, 7, 1), today=TODAY, org_path=[], by="s", correlation_id=None)
    [e] = w.collect_events()
    assert isinstance(e, OrgUnit.Dissolved) and e.reason == "sáp nhập"
    with pytest.raises(DomainError) as err:
        w.dissolve(reason="", effective_from=D(2025, 8, 1), today=TODAY, org_path=[], by="s", correlation_id=None)
    assert err.value.rule == "unit.ended"
    with pytest.raises(DomainError) as err:
        cell(w, effective_from=D(2025, 8, 1))
    assert (err.value.field, err.value.rule) == ("parent_id", "unit.ended")


def test_supervisors_are_assigned_once_and_unassigned_only_when_assigned():
    (w, c), _ = units(("ward", "W", None), ("cell", "C", 0))
    sup = admit(c)
    c.assign_supervisor(supervisor=sup, effective_from=D(2025, 1, 1), today=TODAY, org_path=[], by="s",
                        correlation_id=None)
    assert c.supervisor_since(sup.id) == D(2025, 1, 1)
    with pytest.raises(DomainError) as err:
        c.assign_supervisor(supervisor=sup, effective_from=D(2025, 2, 1), today=TODAY, org_path=[], by="s",
                            correlation_id=None)
    assert err.value.rule == "supervisor.already_assigned"
    with pytest.raises(DomainError) as err:
        c.unassign_supervisor(supervisor_id=sup.id, effective_from=D(2024, 12, 1), today=TODAY, org_path=[], by="s",
                              correlation_id=None)
    assert err.value.rule == "supervisor.date_order"
    c.unassign_supervisor(supervisor_id=sup.id, effective_from=D(2025, 6, 1), today=TODAY, org_path=[], by="s",
                          correlation_id=None)
    with pytest.raises(DomainError) as err:
        c.unassign_supervisor(supervisor_id=sup.id, effective_from=D(2025, 7, 1), today=TODAY, org_path=[], by="s",
                              correlation_id=None)
    assert err.value.rule == "supervisor.not_assigned"
    with pytest.raises(DomainError) as err:
        w.assign_supervisor(supervisor=sup, effective_from=D(2025, 1, 1), today=TODAY, org_path=[], by="s",
                            correlation_id=None)
    assert err.value.rule == "supervisor.cell_kind"
    events = c.collect_events()
    assert [type(e).__name__ for e in events] == ["SupervisorAssigned", "SupervisorUnassigned"]


# --- the register: confirm, exempt, transfer, remove ----------------------------------------------------

def member_in(c, **kw):
    m = admit(c, **kw)
    m.collect_events()
    return m


ARGS = {"today": TODAY, "org_path": [], "by": "s", "correlation_id": None}


def test_confirm_after_probation_or_earlier_only_with_a_reason():
    c = cell(ward())
    m = member_in(c)  # admitted 2024-01-10
    with pytest.raises(DomainError) as err:
        m.confirm(official_since=D(2024, 12, 1), override_reason=None, probation_months=12, **ARGS)
    assert (err.value.field, err.value.rule) == ("official_since", "member.probation_length")
    m.confirm(official_since=D(2024, 12, 1), override_reason="quyết định của đảng ủy", probation_months=12, **ARGS)
    [e] = m.collect_events()
    assert isinstance(e, Member.Officialized) and e.override_reason == "quyết định của đảng ủy"
    assert e.cell_id == c.id
    with pytest.raises(DomainError) as err:
        m.confirm(official_since=D(2025, 2, 1), override_reason=None, probation_months=12, **ARGS)
    assert err.value.rule == "member.not_probationary"


def test_confirm_on_time_needs_no_reason():
    m = member_in(cell(ward()))
    m.confirm(official_since=D(2025, 1, 10), override_reason="  ", probation_months=12, **ARGS)
    assert (m.status, m.override_reason) == ("official", None)


def test_exemption_is_granted_once_and_lifted_only_when_granted():
    m = member_in(cell(ward()))
    with pytest.raises(DomainError) as err:
        m.lift_exemption(effective_from=D(2025, 1, 1), **ARGS)
    assert err.value.rule == "member.not_exempted"
    m.exempt(reason="health", note="điều trị dài ngày", effective_from=D(2025, 1, 1), **ARGS)
    with pytest.raises(DomainError) as err:
        m.exempt(reason="age", note="", effective_from=D(2025, 2, 1), **ARGS)
    assert err.value.rule == "member.already_exempted"
    m.lift_exemption(effective_from=D(2025, 3, 1), **ARGS)
    assert [type(e).__name__ for e in m.collect_events()] == ["Exempted", "ExemptionLifted"]


def test_transfers_official_and_temporary():
    w = ward()
    c1, c2, c3 = cell(w), cell(w, code="TG-2"), cell(w, code="TG-3")
    m = member_in(c1)
    m.transfer(to_cell=c2, kind="temporary", effective_from=D(2025, 1, 1), until=D(2025, 4, 1), **ARGS)
    assert m.cell_id == c1.id and m.temporary_on(D(2025, 3, 31))["cell_id"] == c2.id
    assert m.temporary_on(D(2025, 4, 1)) is None
    with pytest.raises(DomainError) as err:  # an official transfer while away
        m.transfer(to_cell=c3, kind="official", effective_from=D(2025, 2, 1), until=None, **ARGS)
    assert err.value.rule == "transfer.temporary_active"
    with pytest.raises(DomainError) as err:  # overlapping temporary transfers
        m.transfer(to_cell=c3, kind="temporary", effective_from=D(2025, 3, 1), until=D(2025, 5, 1), **ARGS)
    assert err.value.rule == "transfer.overlap"
    m.transfer(to_cell=c3, kind="official", effective_from=D(2025, 4, 1), until=None, **ARGS)
    assert m.cell_id == c3.id
    events = m.collect_events()
    assert [(e.from_cell_id, e.to_cell_id, e.kind) for e in events] == [(c1.id, c2.id, "temporary"),
                                                                         (c1.id, c3.id, "official")]


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"to": 0, "kind": "official"}, "to_cell_id", "transfer.same_cell"),
        ({"to": 1, "kind": "temporary"}, "until", "transfer.until_required"),
        ({"to": 1, "kind": "temporary", "until": D(2025, 1, 1)}, "until", "transfer.until_after_start"),
        ({"to": 1, "kind": "official", "until": D(2025, 3, 1)}, "until", "transfer.until_temporary_only"),
        ({"to": 2, "kind": "official"}, "to_cell_id", "member.cell_kind"),
        ({"to": 1, "kind": "official", "day": D(2023, 1, 1)}, "effective_from", "member.before_admission"),
        ({"to": 1, "kind": "official", "day": D(2027, 1, 1)}, "effective_from", "date.not_future"),
    ],
)
def test_transfer_rules(kwargs, field, rule):
    w = ward()
    targets = [cell(w), cell(w, code="TG-2"), w]
    m = member_in(targets[0])
    with pytest.raises(DomainError) as err:
        m.transfer(to_cell=targets[kwargs["to"]], kind=kwargs["kind"], effective_from=kwargs.get("day", D(2025, 1, 1)),
                   until=kwargs.get("until"), **ARGS)
    assert (err.value.field, err.value.rule) == (field, rule)
    assert m.collect_events() == []


def test_a_removed_member_takes_no_further_change():
    w = ward()
    m = member_in(cell(w))
    m.remove(reason="deceased", note="", effective_from=D(2025, 5, 1), **ARGS)
    [e] = m.collect_events()
    assert (e.reason, e.effective_from) == ("deceased", D(2025, 5, 1))
    for command in (
        lambda: m.remove(reason="struck_off", note="", effective_from=D(2025, 6, 1), **ARGS),
        lambda: m.exempt(reason="age", note="", effective_from=D(2025, 6, 1), **ARGS),
        lambda: m.transfer(to_cell=cell(w, code="X"), kind="official", effective_from=D(2025, 6, 1), until=None,
                           **ARGS),
    ):
        with pytest.raises(DomainError) as err:
            command()
        assert (err.value.field, err.value.rule) == ("member_id", "member.removed")
    assert m.collect_events() == []


def test_member_changes_are_recorded_in_date_order():
    m = member_in(cell(ward()))
    m.exempt(reason="age", note="", effective_from=D(2025, 5, 1), **ARGS)
    with pytest.raises(DomainError) as err:
        m.remove(reason="moved_away", note="", effective_from=D(2025, 4, 1), **ARGS)
    assert err.value.rule == "member.date_order"


def test_admission_into_an_ended_cell_is_refused_and_born_on_is_kept_on_the_event():
    w = ward()
    c = cell(w)
    m = admit(c, born_on=D(1980, 5, 2))
    assert m.collect_events()[0].born_on == D(1980, 5, 2)
    c.dissolve(reason="", effective_from=D(2024, 6, 1), today=TODAY, org_path=[], by="s", correlation_id=None)
    with pytest.raises(DomainError) as err:
        admit(c, code="M2")
    assert err.value.rule == "unit.ended"
    with pytest.raises(DomainError) as err:
        admit(cell(w, code="C2"), born_on=D(2024, 1, 10))
    assert err.value.field == "born_on"


def test_a_temporary_transfer_can_end_early():
    w = ward()
    home, host = cell(w), cell(w, code="TG-2")
    m = member_in(home)
    with pytest.raises(DomainError) as err:
        m.end_temporary_transfer(effective_from=D(2025, 2, 1), **ARGS)
    assert err.value.rule == "transfer.no_temporary"
    m.transfer(to_cell=host, kind="temporary", effective_from=D(2025, 1, 1), until=D(2025, 6, 1), **ARGS)
    with pytest.raises(DomainError) as err:  # on or after the planned return: nothing to end
        m.end_temporary_transfer(effective_from=D(2025, 6, 1), **ARGS)
    assert err.value.rule == "transfer.no_temporary"
    m.end_temporary_transfer(effective_from=D(2025, 3, 1), **ARGS)
    assert m.temporary_on(D(2025, 3, 1)) is None and m.temporary_on(D(2025, 2, 28))["cell_id"] == host.id
    ended = m.collect_events()[-1]
    assert (ended.home_cell_id, ended.host_cell_id, ended.effective_from) == (home.id, host.id, D(2025, 3, 1))
    m.transfer(to_cell=host, kind="official", effective_from=D(2025, 3, 1), until=None, **ARGS)  # no longer away
