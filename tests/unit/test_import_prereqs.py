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
                        effective_from=dt.date(2020, 1, 1), by="s")
    return app.create_unit(kind="cell", name="C", code="TG-1", parent_id=w.id, block="residential",
                           effective_from=dt.date(2020, 1, 1), by="s").id


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
