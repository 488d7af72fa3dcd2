"""Minimal members-domain additions the register import needs (born_on, exemption); see the import branch.

The members branch brings the full versions; these tests pin the behaviour the importer relies on.
"""

import datetime as dt

import pytest

from services.members.application import MembersApplication
from services.members.domain import Member
from shared.errors import DomainError

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def app():
    return MembersApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, today=lambda: TODAY)


@pytest.fixture
def cell_id(app):
    w = app.create_unit(kind="ward", name="W", code="TG", parent_id=None, block=None,
                        effective_from=dt.date(2000, 1, 1), by="s")
    return app.create_unit(kind="cell", name="C", code="TG-1", parent_id=w.id, block="residential",
                           effective_from=dt.date(2000, 1, 1), by="s").id


def test_born_on_is_kept_on_the_admission_and_shown(app, cell_id):
    m = app.admit_member(code="M1", full_name="Đặng Quốc Khánh", cell_id=cell_id, admitted_on=dt.date(2024, 1, 1),
                         born_on=dt.date(1980, 5, 17), by="s")
    assert app.member(m.id)["born_on"] == "1980-05-17"
    [admitted] = [e for e in app.repository.event_store.get(m.id) if isinstance(e, Member.Admitted)]
    assert admitted.born_on == dt.date(1980, 5, 17)


def test_born_on_must_precede_admission(app, cell_id):
    with pytest.raises(DomainError) as err:
        app.admit_member(code="M1", full_name="A", cell_id=cell_id, admitted_on=dt.date(2024, 1, 1),
                         born_on=dt.date(2024, 1, 1), by="s")
    assert (err.value.field, err.value.rule) == ("born_on", "member.born_before_admission")


def test_exemption_is_recorded_and_published_as_member_exempted(app, cell_id):
    from services.members.integration import translate

    m = app.admit_member(code="M1", full_name="A", cell_id=cell_id, admitted_on=dt.date(2010, 1, 1), by="s")
    app.exempt_member(member_id=m.id, reason="age", note=" 80 tuổi ", effective_from=dt.date(2025, 3, 1),
                      by="staff", correlation_id="req-9")
    shown = app.member(m.id)
    assert shown["exemption"] == {"reason": "age", "note": "80 tuổi", "effective_from": "2025-03-01"}
    event = list(app.repository.event_store.get(m.id))[-1]
    assert isinstance(event, Member.Exempted)
    assert (event.recorded_by, event.correlation_id, event.org_path) == ("staff", "req-9", m.org_path)
    payload = translate(event).payload
    assert (payload.member_id, payload.cell_id, payload.reason, payload.note) == (m.id, cell_id, "age", "80 tuổi")


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"reason": "bored"}, "reason", "exemption.reason"),
        ({"effective_from": dt.date(2026, 11, 24)}, "effective_from", "date.not_future"),
        ({"effective_from": dt.date(2009, 12, 31)}, "effective_from", "exemption.after_admission"),
    ],
)
def test_exemption_rules_refuse_and_record_nothing(app, cell_id, kwargs, field, rule):
    m = app.admit_member(code="M1", full_name="A", cell_id=cell_id, admitted_on=dt.date(2010, 1, 1), by="s")
    before = app.recorder.max_notification_id()
    args = {"member_id": m.id, "reason": "health", "effective_from": dt.date(2025, 1, 1), "by": "s"} | kwargs
    with pytest.raises(DomainError) as err:
        app.exempt_member(**args)
    assert (err.value.field, err.value.rule) == (field, rule)
    assert app.recorder.max_notification_id() == before


def test_a_member_is_exempted_once(app, cell_id):
    m = app.admit_member(code="M1", full_name="A", cell_id=cell_id, admitted_on=dt.date(2010, 1, 1), by="s")
    app.exempt_member(member_id=m.id, reason="health", effective_from=dt.date(2025, 1, 1), by="s")
    with pytest.raises(DomainError) as err:
        app.exempt_member(member_id=m.id, reason="age", effective_from=dt.date(2025, 2, 1), by="s")
    assert err.value.rule == "member.already_exempted"
