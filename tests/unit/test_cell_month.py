"""The per-cell monthly figures, against hand-computed expectations (design.md §2 attendance base)."""

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest

from services.reporting.compliance import cell_month, periods, projection, schema
from shared.contracts import meetings as mt
from shared.contracts import parse_event
from shared.stores import TrackedStore
from tests.factories import Source, held, unit


@pytest.fixture
def feed(sqlite_settings):
    store = TrackedStore(sqlite_settings, "reporting")
    store.create_tables(schema.DDL)
    members, meetings = Source("members"), Source("meetings")
    ward = unit("ward", code="W")
    cells = [unit("cell", parent=ward.unit_id, code=f"C{i}") for i in (1, 2)]

    def apply(data):
        env, payload = parse_event(data)
        with store.tracked(env.source, env.position) as sql:
            projection.project(sql, env, payload)

    apply(members.emit(ward, [str(ward.unit_id)]))
    for c in cells:
        apply(members.emit(c, [str(ward.unit_id), str(c.unit_id)]))

    def meeting(cell, roster, outcomes, day=dt.date(2026, 1, 10), kind="regular"):
        event = held(cell.unit_id, roster, day, kind)
        apply(meetings.emit(event))
        for (member, status), outcome in zip(roster, outcomes, strict=True):
            if outcome == "present":
                payload = mt.MemberAttended(meeting_id=event.meeting_id, cell_id=cell.unit_id, member_id=member,
                                            status=status)
            else:
                payload = mt.MemberAbsent(meeting_id=event.meeting_id, cell_id=cell.unit_id, member_id=member,
                                          status=status, excused=outcome == "excused", reason="x")
            apply(meetings.emit(payload))
        return event

    def rows(first="2026-01", last="2026-02", under=None):
        with store.read() as sql:
            rows = cell_month.cell_months(sql, periods.month_range(first, last), dt.date(2026, 11, 23), under)
            return {(r["cell_code"], r["month"]): SimpleNamespace(**r) for r in rows}

    return {"cells": cells, "ward": ward, "meeting": meeting, "rows": rows, "apply": apply, "meetings": meetings}


def people(*statuses):
    return [(uuid.uuid4(), s) for s in statuses]


def test_attendance_rate_is_present_over_the_attendance_base(feed):
    c1 = feed["cells"][0]
    # 5 summoned: 3 official present, 1 probationary absent (excused), 1 official absent (unexcused)
    feed["meeting"](c1, people("official", "official", "official", "probationary", "official"),
                    ["present", "present", "present", "excused", "unexcused"])
    r = feed["rows"]()[("C1", "2026-01")]
    assert (r.meetings, r.regular_held, r.present, r.attendance_base, r.attendance_rate) == (1, True, 3, 5, 0.6)


def test_exempted_absent_and_temporarily_elsewhere_leave_the_base_but_exempted_present_counts(feed):
    c1 = feed["cells"][0]
    feed["meeting"](c1, people("official", "exempted", "exempted", "temporarily_elsewhere", "official"),
                    ["present", "present", "excused", "excused", "unexcused"])
    r = feed["rows"]()[("C1", "2026-01")]
    # base = 5 - 1 (exempted, absent) - 1 (temporarily elsewhere) = 3; present = 2 (incl. the exempted one)
    assert (r.present, r.attendance_base, r.attendance_rate) == (2, 3, round(2 / 3, 4))


def test_month_without_a_meeting_and_thematic_only_month(feed):
    c1, c2 = feed["cells"]
    feed["meeting"](c1, people("official"), ["present"], day=dt.date(2026, 2, 3), kind="thematic")
    feed["meeting"](c2, people("official"), ["present"], day=dt.date(2026, 2, 3), kind="combined")
    rows = feed["rows"]()
    assert rows[("C1", "2026-01")].meetings == 0 and rows[("C1", "2026-01")].attendance_rate is None
    assert rows[("C1", "2026-02")].meetings == 1 and not rows[("C1", "2026-02")].regular_held  # thematic only
    assert rows[("C2", "2026-02")].regular_held  # regular + thematic in one session counts as regular


def test_two_meetings_in_a_month_pool_their_attendance(feed):
    c1 = feed["cells"][0]
    feed["meeting"](c1, people("official", "official"), ["present", "unexcused"], day=dt.date(2026, 1, 5))
    feed["meeting"](c1, people("official", "official"), ["present", "present"], day=dt.date(2026, 1, 20))
    r = feed["rows"]()[("C1", "2026-01")]
    assert (r.meetings, r.present, r.attendance_base, r.attendance_rate) == (2, 3, 4, 0.75)


def test_filter_by_unit_keeps_only_its_cells(feed):
    c1 = feed["cells"][0]
    assert {code for code, _ in feed["rows"](under=str(c1.unit_id))} == {"C1"}
    assert {code for code, _ in feed["rows"](under=str(feed["ward"].unit_id))} == {"C1", "C2"}


def test_attendance_for_someone_not_on_the_roster_is_a_projection_error(feed):
    c1 = feed["cells"][0]
    event = feed["meeting"](c1, people("official"), ["present"])
    stray = mt.MemberAttended(meeting_id=event.meeting_id, cell_id=c1.unit_id, member_id=uuid.uuid4(),
                              status="official")
    with pytest.raises(projection.ProjectionError):
        feed["apply"](feed["meetings"].emit(stray))


def test_months_between_and_month_parsing():
    assert periods.months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    from shared.errors import DomainError

    with pytest.raises(DomainError) as err:
        cell_month.parse_month("from", "2026-13", "2026-01")
    assert err.value.field == "from"


def test_a_correction_of_attendance_changes_the_figures(feed):
    c1 = feed["cells"][0]
    roster = people("official", "official")
    event = feed["meeting"](c1, roster, ["present", "unexcused"])
    assert feed["rows"]()[("C1", "2026-01")].present == 1
    feed["apply"](feed["meetings"].emit(mt.MeetingCorrected(
        meeting_id=event.meeting_id, cell_id=c1.unit_id, path=f"attendance.{roster[1][0]}",
        old_value={"present": False, "excused": False, "reason": ""}, new_value={"present": True},
        reason="ghi nhầm")))
    r = feed["rows"]()[("C1", "2026-01")]
    assert (r.present, r.attendance_base, r.attendance_rate) == (2, 2, 1.0)
