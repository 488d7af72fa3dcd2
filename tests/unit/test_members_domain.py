"""Members aggregates: given events, when a command, then events (or a refusal that records nothing)."""

import datetime as dt

import pytest

from services.members.application import MembersApplication
from services.members.domain import Member, OrgUnit, add_months, admit_member, create_unit
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
