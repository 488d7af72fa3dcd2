"""Every compliance figure against hand-computed expectations; each rule has a case that changes the figure.

The world: a district D with ward W1 (cell A residential, cell B administrative) and ward W2 (cell C
residential), Q1 2025, reported on 15 April 2025.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from shared.errors import DomainError, NotFound
from tests.reporting_world import FULL, World

D = dt.date


@pytest.fixture(params=["sqlite"])
def w(request):
    """The world on SQLite; tests marked `both` run on PostgreSQL too (each PostgreSQL store costs ~2 s)."""
    world = World(request.getfixturevalue(f"{request.param}_settings"))
    world.unit("HN", "city")
    world.unit("D", "district", parent="HN")
    world.unit("W1", "ward", parent="D")
    world.unit("W2", "ward", parent="D")
    world.unit("A", "cell", parent="W1", block="residential")
    world.unit("B", "cell", parent="W1", block="administrative")
    world.unit("C", "cell", parent="W2", block="residential")
    yield world
    world.store.close()


both = pytest.mark.parametrize("w", ["sqlite", "postgres"], indirect=True)


def roster(ids, status="official"):
    return dict.fromkeys(ids, status)


@both
def test_regular_every_month_and_thematic_every_quarter(w):
    a, b, c = w.admit("A", 3), w.admit("B", 3), w.admit("C", 3)
    for month in (1, 2, 3):
        w.meeting("A", D(2025, month, 10), roster(a), kind="combined" if month == 3 else "regular")
        if month != 2:  # B misses February
            w.meeting("B", D(2025, month, 10), roster(b))
        w.meeting("C", D(2025, month, 10), roster(c))
    w.meeting("C", D(2025, 2, 20), roster(c), kind="thematic")  # a thematic meeting alone
    f = w.figures("D")
    assert f["cells"] == 3
    assert f["regular_every_month"] == {"count": 2, "of": 3, "rate": 0.6667}  # A, C
    assert f["regular_cell_months"] == {"count": 8, "of": 9, "rate": 0.8889}
    assert f["thematic_every_quarter"] == {"count": 2, "of": 3, "rate": 0.6667}  # A (combined), C (thematic)
    # a thematic meeting does not stand for the month's regular meeting
    w.meeting("B", D(2025, 2, 25), roster(b), kind="thematic")
    f = w.figures("D")
    assert f["regular_every_month"]["count"] == 2 and f["thematic_every_quarter"]["count"] == 3
    w.meeting("B", D(2025, 2, 26), roster(b))
    assert w.figures("D")["regular_every_month"] == {"count": 3, "of": 3, "rate": 1.0}


def test_a_month_still_running_is_not_due(w):
    a = w.admit("A", 3)
    w.today = D(2025, 3, 20)
    w.meeting("A", D(2025, 1, 10), roster(a))
    w.meeting("A", D(2025, 2, 10), roster(a))
    f = w.figures("A", "2025-Q1")
    assert f["regular_cell_months"] == {"count": 2, "of": 2, "rate": 1.0}  # March is not over
    assert f["thematic_every_quarter"]["of"] == 0  # neither is the quarter


def test_attendance_pools_present_over_the_base_across_meetings(w):
    a = w.admit("A", 4)
    p = w.admit("A", 1, official=False)
    # January: 5 summoned, one official absent with an excuse -> 4/5
    w.meeting("A", D(2025, 1, 10), roster(a) | roster(p, "probationary"), absent={a[0]: True})
    # February: one exempted and absent (leaves the base), one elsewhere (leaves the base) -> 3/3
    w.meeting("A", D(2025, 2, 10), {a[0]: "exempted", a[1]: "temporarily_elsewhere", a[2]: "official",
                                     a[3]: "official", p[0]: "probationary"},
              absent={a[0]: True, a[1]: True}, official={a[0]: True, a[1]: True})
    f = w.figures("A")
    assert f["attendance"] == {"present": 7, "base": 8, "rate": 0.875}


def test_able_to_decide_needs_more_than_half_of_the_official_members_present(w):
    a = w.admit("A", 4)
    p = w.admit("A", 2, official=False)
    # 2 of 4 official present (plus 2 probationary): not more than half -> not able to decide
    w.meeting("A", D(2025, 1, 10), roster(a) | roster(p, "probationary"), absent={a[0]: True, a[1]: False})
    # 3 of 4 -> able
    w.meeting("A", D(2025, 2, 10), roster(a) | roster(p, "probationary"), absent={a[0]: True})
    f = w.figures("A")
    assert f["able_to_decide"] == {"count": 1, "of": 2, "rate": 0.5}
    item = {m["date"]: m for m in w.query("drill", unit=w.codes["A"], period="2025-Q1",
                                          figure="able_to_decide")["items"]}
    assert (item["2025-01-10"]["voting_base"], item["2025-01-10"]["voters_present"]) == (4, 2)
    assert item["2025-01-10"]["able_to_decide"] is False and item["2025-02-10"]["able_to_decide"] is True


def test_full_procedure_and_minimum_duration_of_regular_meetings(w):
    a = w.admit("A", 3)
    w.meeting("A", D(2025, 1, 10), roster(a), minutes=90)  # all steps, 90 minutes: both met
    w.meeting("A", D(2025, 2, 10), roster(a), minutes=89, steps=FULL[:-1])  # minutes not read; too short
    w.meeting("A", D(2025, 3, 10), roster(a), kind="combined", minutes=100)  # combined needs 120
    w.meeting("A", D(2025, 3, 20), roster(a), kind="thematic", minutes=45, steps=[])  # no minimum, no procedure
    f = w.figures("A")
    assert f["meetings"] == 4
    assert f["full_procedure"] == {"count": 2, "of": 3, "rate": 0.6667}
    assert f["minimum_duration"] == {"count": 1, "of": 3, "rate": 0.3333}


def test_participation_counts_present_members_who_spoke(w):
    a = w.admit("A", 4)
    guest = str(uuid.uuid4())
    # a guest who speaks is not a member of the cell: not counted; nor is a member who did not come
    w.meeting("A", D(2025, 1, 10), roster(a), absent={a[3]: True}, spoke=[a[0], a[1], guest],
              guests={guest: False})
    f = w.figures("A")
    assert f["participation"] == {"speakers": 2, "present": 3, "rate": 0.6667}


@both
def test_resolutions_reviewed_in_time_late_overdue_and_not_yet_due(w):
    a = w.admit("A", 3)
    jan = w.meeting("A", D(2025, 1, 10), roster(a))
    r_in_time = w.resolution(jan, "A")
    r_late = w.resolution(jan, "A")
    r_overdue = w.resolution(jan, "A")
    feb = w.meeting("A", D(2025, 2, 10), roster(a))  # the next regular meeting: the deadline
    w.review(feb, "A", r_in_time)
    mar = w.meeting("A", D(2025, 3, 10), roster(a))
    w.review(mar, "A", r_late)
    w.resolution(mar, "A")  # no regular meeting since: due at the end of April, not yet due on 15 April
    f = w.figures("A")
    assert f["resolutions_passed"] == 4
    assert f["resolutions_reviewed_in_time"] == {"count": 1, "of": 3, "rate": 0.3333}
    status = {r["resolution_id"]: r["review_status"] for r in w.query(
        "drill", unit=w.codes["A"], period="2025-Q1", figure="resolutions_passed")["items"]}
    assert (status[r_in_time], status[r_late], status[r_overdue]) == ("in_time", "late", "overdue")
    months = {r["month"]: r for r in w.query("cell_months", unit=w.codes["A"], **{"from": "2025-01",
                                                                                  "to": "2025-03"})["items"]}
    assert (months["2025-01"]["resolutions_due_for_review"], months["2025-01"]["resolutions_reviewed_in_time"]) \
        == (3, 1)
    assert (months["2025-03"]["resolutions_passed"], months["2025-03"]["resolutions_due_for_review"]) == (1, 0)


def test_supervisor_coverage_counts_meetings_of_supervised_cells(w):
    a, b = w.admit("A", 3), w.admit("B", 3)
    s = str(uuid.uuid4())
    w.supervise(s, "A")
    w.meeting("A", D(2025, 1, 10), roster(a), guests={s: True})
    w.meeting("A", D(2025, 2, 10), roster(a))  # the supervisor stayed away
    w.meeting("B", D(2025, 1, 10), roster(b))  # B has no assigned supervisor: not in the figure
    assert w.figures("D")["supervisor_coverage"] == {"count": 1, "of": 2, "rate": 0.5}
    [row] = w.query("supervisors", unit=w.codes["D"], period="2025-Q1")["items"]
    assert (row["supervisor_id"], row["meetings"], row["attended"], row["cells"]) == (s, 2, 1, ["A"])


@both
def test_member_year_flags_unexcused_and_consecutive_absences_but_not_exempted_meetings(w):
    a = w.admit("A", 4)
    x, y, z, e = a
    days = [D(2025, m, 10) for m in range(1, 7)]
    w.today = D(2025, 12, 31)
    for i, day in enumerate(days):
        absent = {}
        if i in (0, 2, 4):
            absent[x] = False  # three unexcused, never consecutive: flagged for unexcused absences
        if i in (1, 2, 3, 4):
            absent[y] = True  # four in a row, all excused: flagged (more than 3 consecutive)
        if i in (1, 2, 3):
            absent[z] = True  # three in a row: not flagged
        status = roster(a) | ({e: "exempted"} if i >= 1 else {})
        if i >= 1:
            absent[e] = True  # exempted and absent: left out of the counts
        w.meeting("A", day, status, absent=absent, official={e: True})
    years = {m["member_id"]: m for m in w.query("member_years", year="2025")["items"]}
    assert (years[x]["unexcused"], years[x]["flag_reasons"]) == (3, ["absence.unexcused"])
    assert (years[y]["longest_absence_run"], years[y]["flag_reasons"]) == (4, ["absence.consecutive"])
    assert (years[z]["longest_absence_run"], years[z]["flagged"]) == (3, False)
    assert (years[e]["summoned"], years[e]["attended"], years[e]["flagged"]) == (1, 1, False)
    assert w.figures("D", "2025")["flagged_members"] == 2
    flagged = w.query("member_years", year="2025", flagged="true")["items"]
    assert {m["member_id"] for m in flagged} == {x, y}
    assert w.query("member_years", year="2025", flagged="true", block="administrative")["total"] == 0
    assert w.query("member_years", year="2025", flagged="true", unit=w.codes["W2"])["total"] == 0


def test_dues_unpaid_three_months_flags_a_member(w):
    a = w.admit("A", 3)
    w.today = D(2025, 12, 31)
    for month in (1, 2, 3, 4):
        m = w.meeting("A", D(2025, month, 10), roster(a))
        for member in a:
            w.dues(m, "A", member, f"2025-{month:02d}", paid=not (member == a[0] and month <= 3))
    assert w.figures("A", "2025")["dues"] == {"count": 9, "of": 12, "rate": 0.75}
    year = w.query("member", a[0], year="2025")
    assert year["figures"]["dues_unpaid"] == 3 and year["figures"]["flag_reasons"] == ["dues.unpaid"]
    # paying one month late un-flags the member
    m = w.meeting("A", D(2025, 5, 10), roster(a))
    w.dues(m, "A", a[0], "2025-01", paid=True)
    assert w.query("member", a[0], year="2025")["figures"]["flagged"] is False


def test_cells_below_three_official_members_at_the_end_of_the_period(w):
    w.admit("A", 3)
    w.admit("B", 2)
    w.admit("B", 1, official=False)
    w.admit("C", 5)
    assert w.figures("D")["cells_below_minimum"] == {"count": 1, "of": 3, "rate": 0.3333}
    items = w.query("drill", unit=w.codes["D"], period="2025-Q1", figure="cells_below_minimum")["items"]
    assert [(i["code"], i["official_members"]) for i in items if i["below_minimum"]] == [("B", 2)]


def test_rollup_by_block_and_by_child_unit_add_up(w):
    a, b, c = w.admit("A", 4), w.admit("B", 2), w.admit("C", 5)
    for month in (1, 2, 3):
        w.meeting("A", D(2025, month, 10), roster(a), absent={a[0]: True})  # 3/4
        w.meeting("B", D(2025, month, 10), roster(b))  # 2/2
        w.meeting("C", D(2025, month, 10), roster(c), absent={c[0]: True, c[1]: True})  # 3/5
    result = w.rollup("D", by="block")
    blocks = {g["key"]: g["figures"]["attendance"] for g in result["groups"]}
    assert blocks == {"residential": {"present": 18, "base": 27, "rate": 0.6667},
                      "administrative": {"present": 6, "base": 6, "rate": 1.0}}
    assert result["figures"]["attendance"] == {"present": 24, "base": 33, "rate": 0.7273}
    assert result["report"][0] == ("100% chi bộ duy trì sinh hoạt thường kỳ hằng tháng; 0% chi bộ sinh hoạt chuyên đề "
                                   "hằng quý; tỷ lệ đảng viên dự sinh hoạt đạt 66,7% ở khối xã, phường, 100% ở khối "
                                   "cơ quan hành chính, sự nghiệp.")
    children = {g["unit"]["code"]: g["figures"]["meetings"] for g in w.rollup("D", by="children")["groups"]}
    assert children == {"W1": 6, "W2": 3}
    assert w.figures("D", block="administrative")["meetings"] == 3


def test_a_move_counts_under_the_old_ward_before_and_the_new_one_after_or_all_under_today(w):
    c = w.admit("C", 3)
    for month in (1, 2, 3):
        w.meeting("C", D(2025, month, 10), roster(c))
    w.move("C", "W1", D(2025, 3, 1))  # from March on, C is under W1
    assert w.figures("W2")["meetings"] == 2 and w.figures("W1")["meetings"] == 1
    assert w.figures("W2", tree="today")["meetings"] == 0 and w.figures("W1", tree="today")["meetings"] == 3
    assert w.figures("D")["meetings"] == w.figures("D", tree="today")["meetings"] == 3


@both
def test_no_meeting_lost_or_counted_twice_across_a_merge(w):
    a, b = w.admit("A", 3), w.admit("B", 3)
    for month in (1, 2):
        w.meeting("A", D(2025, month, 10), roster(a))
        w.meeting("B", D(2025, month, 12), roster(b))
    w.merge(["B"], "A", D(2025, 3, 1))
    w.meeting("A", D(2025, 3, 10), roster(a + b))
    for mode in ("period", "today"):
        f = w.figures("W1", tree=mode)
        assert f["meetings"] == 5, mode
        # B was due in January and February (it met), not in March (merged): every cell met every due month
        assert f["regular_every_month"] == {"count": 2, "of": 2, "rate": 1.0}, mode
    # the tree of today puts B's history under A, its successor; that of the period keeps it apart
    assert w.figures("A", tree="today")["meetings"] == 5
    assert w.figures("A")["meetings"] == 3


def test_bad_parameters_are_refused_naming_the_parameter(w):
    cases = [({"period": "2025-13"}, "period", "period.format"), ({"period": "2025-Q5"}, "period", "period.format"),
             ({"period": "2026"}, "period", "period.not_future"), ({"tree": "yesterday"}, "tree", "tree.mode"),
             ({"block": "farmers"}, "block", "block.unknown"), ({"by": "colour"}, "by", "rollup.by")]
    for params, field, rule in cases:
        with pytest.raises(DomainError) as err:
            w.query("rollup", **({"period": "2025"} | params))
        assert (err.value.field, err.value.rule) == (field, rule), params
    with pytest.raises(NotFound) as err:
        w.query("rollup", unit=str(uuid.uuid4()), period="2025")
    assert err.value.field == "unit"
    with pytest.raises(NotFound):
        w.query("rollup", unit="NO-SUCH-CODE", period="2025")
    with pytest.raises(DomainError) as err:
        w.query("drill", period="2025", figure="happiness")
    assert err.value.field == "figure"


@both
def test_drill_down_reaches_the_events_with_who_recorded_them(w):
    a = w.admit("A", 3)
    m = w.meeting("A", D(2025, 1, 10), roster(a), absent={a[0]: False})
    drill = w.query("drill", unit=w.codes["A"], period="2025-Q1", figure="attendance")
    assert drill["total"] == 1 and drill["items"][0]["links"]["events"] == f"/reporting/meetings/{m}/events"
    events = w.query("events", "meeting_id", m)
    assert events["total"] == 1 + 3 + len(FULL)
    assert {e["recorded_by"] for e in events["items"]} == {"tester"}
    assert [e["type"] for e in events["items"]][:2] == ["MeetingHeld", "MemberAbsent"]
    detail = w.query("meeting", m)
    assert {r["member_id"]: r["outcome"] for r in detail["roster"]}[a[0]] == "absent_unexcused"
    assert w.query("events", "member_id", a[0])["total"] == 2  # admitted, absent


def test_exports_of_a_rollup_and_of_the_flagged_members(w):
    import csv
    import io

    from openpyxl import load_workbook

    a, b = w.admit("A", 3, name="Trần Văn Đào"), w.admit("B", 3, name="Lê Thị Dung")
    w.today = D(2025, 12, 31)
    for month in (1, 2, 3, 4):  # one member of each cell absent without reason four times: flagged
        w.meeting("A", D(2025, month, 10), roster(a), absent={a[0]: False})
        w.meeting("B", D(2025, month, 10), roster(b), absent={b[0]: False})
    data, mime, name = w.query("export", "rollup", "xlsx", "vi", unit=w.codes["D"], period="2025", place="Mê Linh")
    assert mime.startswith("application/vnd.openxmlformats") and name.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert "ĐẢNG CỘNG SẢN VIỆT NAM" in texts and "DISTRICT D" in texts  # the unit, upper-cased
    assert any(t.startswith("Mê Linh, ngày 31 tháng 12 năm 2025") for t in texts)
    totals = next(row for row in sheet.iter_rows(values_only=True) if "Tổng cộng" in row)
    assert totals[2] == 3 and totals[3] == 0  # cells (A, B, C), then % met every month (none met all 12)
    data, mime, name = w.query("export", "flagged", "csv", "vi", unit=w.codes["D"], year="2025")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    names = [r[1] for r in rows if r and r[0].isdigit()]
    assert names == ["Lê Thị Dung", "Trần Văn Đào"]  # by given name: Dung before Đào
