"""The whole life of a meeting through MeetingsApplication, each rule of design.md §2 with a test that fails
when the rule is broken. Given: a replica (SQLite) with a cell of six official and one probationary member,
another cell, and a committee member assigned to supervise the cell."""

import datetime as dt
import uuid

import pytest

from services.meetings import roster
from services.meetings.application import MeetingsApplication
from services.meetings.domain import AGENDA_ORDER, Meeting
from services.meetings.integration import translate
from shared.contracts import members as mb
from shared.contracts import parse_event
from shared.errors import Conflict, DomainError, NotFound
from shared.relay import EnvelopeReader
from tests.factories import Source, admitted, ward_with_two_cells
from tests.unit.test_meetings_domain import replica

TODAY = dt.date(2026, 11, 23)
DAY = dt.date(2026, 1, 10)
D2025 = dt.date(2025, 1, 1)


@pytest.fixture
def w(sqlite_settings):
    src = Source("members")
    _, cell, other, events = ward_with_two_cells(src)
    members = [admitted(cell.unit_id, f"Thành viên {i}", official=i < 6) for i in range(7)]
    stranger = admitted(other.unit_id, "Người ngoài")
    other_members = [admitted(other.unit_id, f"Khác {i}") for i in range(3)]
    supervisor = mb.SupervisorAssigned(supervisor_id=stranger.member_id, cell_id=cell.unit_id,
                                       effective_from=dt.date(2020, 1, 1))
    events += [src.emit(m) for m in [*members, stranger, *other_members, supervisor]]
    store = replica(sqlite_settings, events)
    app = MeetingsApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, today=lambda: TODAY)
    return {"app": app, "roster": roster.RosterReader(store), "cell": cell.unit_id, "other": other.unit_id,
            "m": [m.member_id for m in members], "stranger": stranger.member_id,
            "others": [m.member_id for m in other_members]}


def schedule(w, **kw):
    args = {"roster": w["roster"], "cell_id": w["cell"], "kind": "regular", "topic": None, "date": DAY,
            "start_time": dt.time(19, 0), "place": "Nhà văn hóa", "by": "secretary"} | kw
    return w["app"].schedule_meeting(**args)


def hold(w, meeting_id, **kw):
    m = w["m"]
    args = {"roster": w["roster"], "date": DAY, "start_time": dt.time(19, 0), "end_time": dt.time(21, 0),
            "place": "Nhà văn hóa tổ 5", "chair_id": m[0], "minute_taker_id": m[1], "by": "secretary"} | kw
    return w["app"].hold_scheduled(meeting_id, **args)


def held_meeting(w, present=6, cell="cell", members="m", **kw):
    """A scheduled-then-held meeting with the first `present` members present, the others absent (excused)."""
    ms = w[members]
    meeting = schedule(w, cell_id=w[cell])
    hold(w, meeting.id, chair_id=ms[0], minute_taker_id=ms[1], **kw)
    w["app"].record_attendance(meeting.id, present=ms[:present],
                               absent=[{"member_id": x, "excused": True, "reason": "ốm"} for x in ms[present:]],
                               by="secretary")
    return meeting.id


def refused(call, field, rule):
    with pytest.raises(DomainError) as err:
        call()
    assert (err.value.field, err.value.rule) == (field, rule), err.value
    return err.value


def test_scheduling_summons_the_members_and_the_assigned_supervisors(w):
    meeting = schedule(w)
    view = w["app"].meeting(meeting.id)
    assert view["status"] == "scheduled"
    assert {e["member_id"] for e in view["summoned"]} == {str(x) for x in w["m"]}
    assert view["summoned_guests"] == [{"guest_id": str(w["stranger"]), "full_name": "Người ngoài"}]


def test_a_thematic_meeting_needs_its_topic(w):
    refused(lambda: schedule(w, kind="thematic"), "topic", "thematic.topic")
    assert schedule(w, kind="thematic", topic="Học tập Nghị quyết").topic == "Học tập Nghị quyết"


def test_holding_freezes_the_roster_with_each_status_as_of_the_date(w):
    meeting = schedule(w)
    hold(w, meeting.id)
    view = w["app"].meeting(meeting.id)
    statuses = {e["member_id"]: e["status"] for e in view["roster"]}
    assert statuses[str(w["m"][0])] == "official" and statuses[str(w["m"][6])] == "probationary"
    assert view["status"] == "held" and view["place"] == "Nhà văn hóa tổ 5" and view["minutes"] == 120


@pytest.mark.parametrize(("change", "field", "rule"), [
    ({"date": TODAY + dt.timedelta(days=1)}, "date", "date.not_future"),
    ({"end_time": dt.time(18, 0)}, "end_time", "time.end_after_start"),
])
def test_hold_rules_refuse_and_record_nothing(w, change, field, rule):
    meeting = schedule(w)
    refused(lambda: hold(w, meeting.id, **change), field, rule)
    assert w["app"].get_meeting(meeting.id).version == 1


def test_a_meeting_is_held_once(w):
    meeting = schedule(w)
    hold(w, meeting.id)
    refused(lambda: hold(w, meeting.id), "meeting_id", "meeting.not_scheduled")


def test_attendance_of_someone_not_in_the_cell_on_that_date_is_refused(w):
    meeting = schedule(w)
    hold(w, meeting.id)
    refused(lambda: w["app"].record_attendance(meeting.id, present=[w["m"][0], w["stranger"]], absent=[], by="s"),
            "present.1", "attendance.roster")
    assert w["app"].get_meeting(meeting.id).attendance == {}  # nothing half-applied


def test_a_duplicate_attendance_entry_is_refused_even_in_a_later_command(w):
    meeting = schedule(w)
    hold(w, meeting.id)
    w["app"].record_attendance(meeting.id, present=[w["m"][0]], absent=[], by="s")
    refused(lambda: w["app"].record_attendance(
        meeting.id, present=[], absent=[{"member_id": w["m"][0], "excused": False}], by="s"),
        "absent.0", "attendance.once")


def test_counts_follow_the_design_bases(w):
    mid = held_meeting(w, present=4)
    counts = w["app"].meeting(mid)["counts"]
    assert counts == {"summoned": 7, "present": 4, "attendance_base": 7, "voting_base": 6, "eligible_voters": 4,
                      "able_to_decide": True, "participation": 0.0}


def test_guests_are_marked_when_they_are_the_assigned_supervisor(w):
    mid = held_meeting(w)
    outsider = uuid.uuid4()
    w["app"].record_guests(mid, roster=w["roster"], by="s", guests=[
        {"guest_id": w["stranger"]}, {"guest_id": outsider, "full_name": "Trần Văn Khách"}])
    guests = {g["guest_id"]: g for g in w["app"].meeting(mid)["guests"]}
    assert guests[str(w["stranger"])] == {"guest_id": str(w["stranger"]), "full_name": "Người ngoài",
                                           "is_assigned_supervisor": True}
    assert guests[str(outsider)]["is_assigned_supervisor"] is False
    refused(lambda: w["app"].record_guests(mid, roster=w["roster"], by="s", guests=[{"guest_id": w["m"][0]}]),
            "guest_id", "guest.not_member")


def test_agenda_steps_follow_the_order_and_full_procedure_needs_every_required_step(w):
    mid = held_meeting(w)
    app = w["app"]
    app.cover_steps(mid, steps=[{"step": "opening"}, {"step": "discussion"}], by="s")
    refused(lambda: app.cover_steps(mid, steps=[{"step": "news_and_policy"}], by="s"), "step", "agenda.order")
    refused(lambda: app.cover_steps(mid, steps=[{"step": "discussion"}], by="s"), "step", "agenda.once")
    assert app.meeting(mid)["full_procedure"] is False
    mid2 = held_meeting(w)
    app.cover_steps(mid2, steps=[{"step": s} for s in AGENDA_ORDER], by="s")
    assert app.meeting(mid2)["full_procedure"] is True


def test_speakers_must_be_present_and_participation_is_their_share(w):
    mid = held_meeting(w, present=4)
    app = w["app"]
    app.record_speakers(mid, by="s", speakers=[{"member_id": w["m"][0], "gist": "Báo cáo tình hình tháng"},
                                               {"member_id": w["m"][1], "gist": "Đề nghị bổ sung"}])
    refused(lambda: app.record_speakers(mid, by="s", speakers=[{"member_id": w["m"][5], "gist": "x"}]),
            "member_id", "speaker.present")
    assert app.meeting(mid)["counts"]["participation"] == 0.5


def vote(w, mid, voters, kind="ordinary", against=0, abstain=0, **kw):
    return w["app"].vote(mid, text="Nghị quyết tháng", kind=kind, votes_for=len(voters) - against - abstain,
                         votes_against=against, abstentions=abstain, voters=voters, by="s", **kw)


def last_resolution(w, mid):
    return w["app"].meeting(mid)["resolutions"][-1]


def test_a_resolution_needs_more_than_half_of_the_voting_base(w):
    mid = held_meeting(w, present=6)
    m = w["m"]
    vote(w, mid, m[:3])  # 3 of 6: exactly half is not more than half
    assert (last_resolution(w, mid)["adopted"], last_resolution(w, mid)["reason"]) == (False, "majority_not_reached")
    vote(w, mid, m[:4])
    r = last_resolution(w, mid)
    assert (r["adopted"], r["threshold"], r["voting_base"], r["votes_for"], r["reason"]) == (True, ">1/2", 6, 4, "")
    vote(w, mid, m[:6], against=3)  # 3 for, 3 against
    assert last_resolution(w, mid)["adopted"] is False


def test_admission_and_confirmation_need_two_thirds(w):
    mid = held_meeting(w, present=6)
    m = w["m"]
    vote(w, mid, m[:4], kind="admission")  # 4 of 6 = exactly 2/3: adopted
    r = last_resolution(w, mid)
    assert (r["adopted"], r["threshold"]) == (True, ">=2/3")
    vote(w, mid, m[:6], kind="confirmation", against=3)  # 3 of 6: a majority would not do either
    assert last_resolution(w, mid)["adopted"] is False
    vote(w, mid, m[:6], kind="confirmation", against=2)
    assert last_resolution(w, mid)["adopted"] is True


def test_a_meeting_not_able_to_decide_records_the_vote_as_rejected_and_says_why(w):
    mid = held_meeting(w, present=3)  # 3 of 6 official members present: not more than half
    vote(w, mid, w["m"][:3])
    r = last_resolution(w, mid)
    assert (r["adopted"], r["reason"]) == (False, "not_able_to_decide")
    assert w["app"].meeting(mid)["counts"]["able_to_decide"] is False


def test_only_official_members_present_may_vote_and_the_refusal_names_who(w):
    mid = held_meeting(w, present=5)
    m = w["m"]
    err = refused(lambda: vote(w, mid, [m[0], m[6]]), "voters.1", "vote.probationary")
    assert "Thành viên 6" in err.message and "Thành viên 6" in err.vi
    refused(lambda: vote(w, mid, [m[0], w["stranger"]]), "voters.1", "vote.member")
    refused(lambda: vote(w, mid, [m[0], m[5]]), "voters.1", "vote.present")  # absent
    refused(lambda: vote(w, mid, [m[0], m[0]]), "voters.1", "vote.once")
    refused(lambda: w["app"].vote(mid, text="x", kind="ordinary", votes_for=3, votes_against=0, abstentions=0,
                                  voters=m[:2], by="s"), "voters", "vote.tally_matches_voters")
    assert w["app"].meeting(mid)["resolutions"] == []


def test_an_earlier_resolution_of_the_same_cell_is_reviewed_at_a_later_meeting(w):
    first = held_meeting(w)
    vote(w, first, w["m"][:4])
    rid = uuid.UUID(last_resolution(w, first)["resolution_id"])
    refused(lambda: w["app"].review(first, resolution_id=rid, outcome="partly", note="", by="s"),
            "resolution_id", "review.later_meeting")
    foreign = held_meeting(w, cell="other", members="others", present=3)
    refused(lambda: w["app"].review(foreign, resolution_id=rid, outcome="implemented", note="", by="s"),
            "resolution_id", "review.same_cell")
    later = held_meeting(w)
    refused(lambda: w["app"].review(later, resolution_id=uuid.uuid4(), outcome="implemented", note="", by="s"),
            "resolution_id", "review.known")
    w["app"].review(later, resolution_id=rid, outcome="partly", note="còn 2 hộ chưa xong", by="s")
    first_view = w["app"].meeting(first)
    assert w["app"].meeting(later)["reviews"] == [{
        "resolution_id": str(rid), "resolution_meeting_id": str(first), "outcome": "partly",
        "note": "còn 2 hộ chưa xong", "resolution_text": first_view["resolutions"][0]["text"],
        "resolution_date": first_view["date"]}]
    from services.meetings.minutes import render_html

    minutes = render_html(w["app"].meeting(later), "Chi bộ")
    assert f"Nghị quyết «{first_view['resolutions'][0]['text']}»" in minutes and str(rid) not in minutes


def test_dues_are_recorded_once_per_member_and_month(w):
    mid = held_meeting(w)
    w["app"].collect_dues(mid, dues=[{"member_id": w["m"][0], "month": "2026-01", "paid": True}], by="s")
    refused(lambda: w["app"].collect_dues(mid, dues=[{"member_id": w["m"][0], "month": "2026-01", "paid": False}],
                                          by="s"), "member_id", "dues.once")
    refused(lambda: w["app"].collect_dues(mid, dues=[{"member_id": w["stranger"], "month": "2026-01", "paid": True}],
                                          by="s"), "member_id", "attendance.roster")


def test_closing_needs_every_member_accounted_for_and_then_only_corrections_change_the_record(w):
    app = w["app"]
    meeting = schedule(w)
    hold(w, meeting.id)
    app.record_attendance(meeting.id, present=w["m"][:6], absent=[], by="s")
    refused(lambda: app.close_meeting(meeting.id, by="s"), "absent", "attendance.complete")
    app.record_attendance(meeting.id, present=[], absent=[{"member_id": w["m"][6], "excused": False}], by="s")
    app.close_meeting(meeting.id, by="s")
    mid = meeting.id
    for call in (lambda: vote(w, mid, w["m"][:4]),
                 lambda: app.cover_steps(mid, steps=[{"step": "opening"}], by="s"),
                 lambda: app.record_speakers(mid, speakers=[{"member_id": w["m"][0], "gist": "x"}], by="s"),
                 lambda: app.close_meeting(mid, by="s")):
        refused(call, "meeting_id", "meeting.closed")
    before = app.get_meeting(mid).version
    refused(lambda: app.correct(mid, path="place", value="Trụ sở", reason=" ", by="s"), "reason", "correction.reason")
    refused(lambda: app.correct(mid, path="roster", value=[], reason="x", by="s"), "path", "correction.path")
    assert app.get_meeting(mid).version == before
    app.correct(mid, path="attendance." + str(w["m"][6]), value={"present": False, "excused": True, "reason": "ốm"},
                reason="ghi nhầm: đồng chí đã báo ốm", by="bí thư")
    view = app.meeting(mid)
    assert view["attendance"][str(w["m"][6])] == {"present": False, "excused": True, "reason": "ốm"}
    assert view["corrections"] == [{"path": f"attendance.{w['m'][6]}",
                                    "old_value": {"present": False, "excused": False, "reason": ""},
                                    "new_value": {"present": False, "excused": True, "reason": "ốm"},
                                    "reason": "ghi nhầm: đồng chí đã báo ốm", "recorded_by": "bí thư"}]
    types = [h["type"] for h in app.history(mid)]
    assert types.count("MemberAbsent") == 1 and types[-2:] == ["Closed", "Corrected"]  # the original stays


def test_a_scheduled_meeting_is_cancelled_with_its_reason(w):
    app = w["app"]
    meeting = schedule(w)
    refused(lambda: app.cancel(meeting.id, reason="  ", by="s"), "reason", "cancel.reason")
    app.cancel(meeting.id, reason="bão số 3", by="s")
    assert (app.meeting(meeting.id)["status"], app.meeting(meeting.id)["cancel_reason"]) == ("cancelled", "bão số 3")
    refused(lambda: hold(w, meeting.id), "meeting_id", "meeting.not_scheduled")
    mid = held_meeting(w)
    refused(lambda: app.cancel(mid, reason="x", by="s"), "meeting_id", "meeting.not_scheduled")


def test_expected_version_refuses_a_stale_form_with_409(w):
    mid = held_meeting(w)
    version = w["app"].get_meeting(mid).version
    w["app"].cover_steps(mid, steps=[{"step": "opening"}], by="s", expected_version=version)
    with pytest.raises(Conflict):
        w["app"].cover_steps(mid, steps=[{"step": "discussion"}], by="s", expected_version=version)


def test_unknown_meeting_is_404(w):
    with pytest.raises(NotFound):
        w["app"].close_meeting(uuid.uuid4(), by="s")


@pytest.mark.parametrize(("kind", "end", "flag"), [
    ("regular", dt.time(20, 0), True), ("regular", dt.time(20, 30), False),
    ("combined", dt.time(20, 45), True), ("combined", dt.time(21, 0), False),
])
def test_a_meeting_shorter_than_the_policy_minimum_is_flagged_not_refused(w, kind, end, flag):
    meeting = schedule(w, kind=kind, topic="Chuyên đề" if kind != "regular" else None)
    hold(w, meeting.id, end_time=end)
    assert w["app"].meeting(meeting.id)["below_minimum_duration"] is flag


def test_every_event_of_a_full_life_translates_to_a_valid_self_contained_contract(w):
    app = w["app"]
    first = held_meeting(w)
    vote(w, first, w["m"][:4])
    rid = uuid.UUID(last_resolution(w, first)["resolution_id"])
    mid = held_meeting(w, present=5)
    app.record_guests(mid, roster=w["roster"], guests=[{"guest_id": w["stranger"]}], by="s")
    app.cover_steps(mid, steps=[{"step": "opening", "note": "thu đảng phí"}], by="s")
    app.record_speakers(mid, speakers=[{"member_id": w["m"][0], "gist": "ý kiến"}], by="s")
    vote(w, mid, w["m"][:4], against=1)
    vote(w, mid, w["m"][:2])
    app.review(mid, resolution_id=rid, outcome="implemented", note="", by="s")
    app.collect_dues(mid, dues=[{"member_id": w["m"][0], "month": "2026-01", "paid": True}], by="s")
    app.close_meeting(mid, by="s")
    app.correct(mid, path="place", value="Hội trường", reason="ghi sai địa điểm", by="s")
    cancelled = schedule(w)
    app.cancel(cancelled.id, reason="trùng lịch", by="s")
    items = EnvelopeReader("meetings", app, translate).page(0, 1000)
    types = {e.type for e in items}
    assert types >= {"MeetingScheduled", "MeetingHeld", "MemberAttended", "MemberAbsent", "GuestAttended",
                     "AgendaStepCovered", "MemberSpoke", "ResolutionPassed", "ResolutionRejected",
                     "ResolutionReviewed", "DuesCollected", "MeetingClosed", "MeetingCancelled", "MeetingCorrected"}
    for e in items:
        env, payload = parse_event(e.to_json())
        assert env.recorded_by in ("s", "secretary")
        assert str(payload.cell_id) in (str(w["cell"]), str(w["other"]))
    closed = next(e for e in items if e.type == "MeetingClosed")
    assert closed.payload["full_procedure"] is False and closed.payload["minutes"] == 120
    assert isinstance(app.get_meeting(mid), Meeting)


def test_the_notification_log_read_page_by_page_decodes_each_event_once(w):
    """EnvelopeReader.page reads only what the page lacks: small pages give the same envelopes as one large
    one, and no stored event is decoded twice (it once was, when a page's last read overran its end)."""
    app = w["app"]
    for _ in range(3):
        held_meeting(w, present=5)
    whole = [e.position for e in EnvelopeReader("meetings", app, translate).page(0, 100_000)]
    decoded: list[int] = []
    to_domain_event = app.mapper.to_domain_event
    app.mapper.to_domain_event = lambda n: (decoded.append(n.id), to_domain_event(n))[1]
    reader, paged, after = EnvelopeReader("meetings", app, translate), [], 0
    while page := reader.page(after, 4):
        assert len(page) <= 4
        paged.extend(e.position for e in page)
        after = page[-1].position
    assert paged == whole and len(whole) > 8
    assert len(decoded) == len(set(decoded))


def test_a_member_temporarily_active_here_may_attend_and_speak_but_is_outside_the_bases(w, sqlite_settings):
    # given: a member of the other cell temporarily active in this one (sinh hoạt tạm thời) since 2025-12-01
    guest_member = w["others"][0]
    feed(w, mb.MemberTransferred(member_id=guest_member, from_cell_id=w["other"], to_cell_id=w["cell"],
                                 kind="temporary", effective_from=dt.date(2025, 12, 1)))
    for one_form in (False, True):
        if one_form:
            mid = w["app"].hold_meeting(roster=w["roster"], cell_id=w["cell"], kind="regular", topic=None, date=DAY,
                                        start_time=dt.time(19), end_time=dt.time(21), place="", chair_id=None,
                                        minute_taker_id=None, present=w["m"], absent=[], by="s").id
        else:
            mid = held_meeting(w, present=7)
        view = w["app"].meeting(mid)
        assert [p["member_id"] for p in view["temporary_participants"]] == [str(guest_member)]
        assert (view["counts"]["summoned"], view["counts"]["attendance_base"]) == (7, 7)
        w["app"].record_speakers(mid, speakers=[{"member_id": guest_member, "gist": "kinh nghiệm nơi cư trú"}],
                                 by="s")
        refused(lambda mid=mid: vote(w, mid, [w["m"][0], guest_member]), "voters.1", "vote.member")
    # and at home, the member is temporarily elsewhere: outside the other cell's attendance base
    home = held_meeting(w, cell="other", members="others", present=3)
    entry = {e["member_id"]: e["status"] for e in w["app"].meeting(home)["roster"]}
    assert entry[str(guest_member)] == "temporarily_elsewhere"


def test_dues_month_must_be_a_month(w):
    mid = held_meeting(w)
    refused(lambda: w["app"].collect_dues(mid, dues=[{"member_id": w["m"][0], "month": "2026-13", "paid": True}],
                                          by="s"), "month", "dues.month")


def feed(w, *payloads):
    src = Source("members", start=200)
    for p in payloads:
        env, payload = parse_event(src.emit(p))
        with w["roster"].store.tracked("members", env.position) as sql:
            roster.project(sql, env, payload)


@pytest.mark.parametrize(("present", "base", "voting_base"), [(False, 6, 5), (True, 7, 6)])
def test_an_exempted_member_counts_in_the_bases_only_when_attending(w, present, base, voting_base):
    exempted = w["m"][5]  # an official member, exempted from activity since 2025
    feed(w, mb.MemberExempted(member_id=exempted, cell_id=w["cell"], reason="health", effective_from=D2025))
    meeting = schedule(w)
    hold(w, meeting.id)
    others = [x for x in w["m"] if x != exempted]
    w["app"].record_attendance(meeting.id, by="s", present=others + ([exempted] if present else []),
                               absent=[] if present else [{"member_id": exempted, "excused": False}])
    view = w["app"].meeting(meeting.id)
    assert {e["member_id"]: e["status"] for e in view["roster"]}[str(exempted)] == "exempted"
    assert (view["counts"]["attendance_base"], view["counts"]["voting_base"]) == (base, voting_base)
    call = lambda: vote(w, meeting.id, [w["m"][0], exempted])  # noqa: E731
    if present:
        call()
        assert last_resolution(w, meeting.id)["voting_base"] == 6
    else:
        refused(call, "voters.1", "vote.present")
