"""Random meetings driven by hypothesis: whatever the secretary sends, in whatever order, the invariants hold.

- a member is counted once (one attendance event per member, only summoned members);
- tallies never exceed the voting base (nor the eligible voters), and only official members present vote;
- a refused command changes nothing (no event, same state);
- after closing, the record changes only through Corrected events.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from services.meetings.domain import AGENDA_ORDER, Absence, Meeting, hold_meeting
from shared.errors import DomainError

STATUSES = ("official", "official", "probationary", "exempted", "temporarily_elsewhere")
DAY = dt.date(2026, 1, 10)
START = dt.datetime(2026, 1, 10, 19, 0, tzinfo=dt.UTC)


def state_of(m: Meeting) -> dict:
    keep = ("status", "place", "topic", "chair_id", "minute_taker_id", "started_at", "ended_at", "attendance",
            "guests", "agenda", "speakers", "resolutions", "reviews", "dues")
    return copy.deepcopy({k: getattr(m, k) for k in keep})


class MeetingMachine(RuleBasedStateMachine):
    @initialize(statuses=st.lists(st.tuples(st.sampled_from(STATUSES), st.booleans()), min_size=1, max_size=8))
    def hold(self, statuses: list[tuple[str, bool]]) -> None:
        self.members = [str(uuid.uuid4()) for _ in statuses]
        self.strangers = [str(uuid.uuid4()) for _ in range(2)]
        roster = [{"member_id": mid, "full_name": f"M{i}", "status": s,
                   "official": s == "official" or (official and s != "probationary")}
                  for i, (mid, (s, official)) in enumerate(zip(self.members, statuses, strict=True))]
        self.meeting = hold_meeting(
            cell_kind="cell", cell_id=uuid.uuid4(), cell_effective_from=dt.date(2020, 1, 1), org_path=[],
            kind="regular", topic=None, date=DAY, started_at=START, ended_at=START + dt.timedelta(minutes=100),
            place="P", chair_id=None, minute_taker_id=None, roster=roster, today=DAY, policy_version="2021.1",
            by="s", correlation_id="c")
        self.events = list(self.meeting.collect_events())
        self.closed_state: dict | None = None

    def person(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(self.members + self.strangers))

    def attempt(self, command) -> None:
        """Run a command; a refusal must leave no event and no change behind."""
        before, version = state_of(self.meeting), self.meeting.version
        try:
            command()
        except DomainError:
            assert self.meeting.version == version
            assert state_of(self.meeting) == before
        new = list(self.meeting.collect_events())
        if self.closed_state is not None:
            assert all(isinstance(e, Meeting.Corrected) for e in new), [type(e).__name__ for e in new]
            if not new:
                assert state_of(self.meeting) == before
        self.events += new

    @rule(data=st.data(), present=st.booleans(), excused=st.booleans(), reason=st.sampled_from(["", "ốm"]))
    def attendance(self, data, present, excused, reason):
        who = self.person(data)
        absent = [] if present else [Absence(who, excused, reason)]
        self.attempt(lambda: self.meeting.record_attendance([who] if present else [], absent, by="s",
                                                            correlation_id="c", complete=False))

    @rule(data=st.data(), kind=st.sampled_from(["ordinary", "admission", "confirmation"]))
    def resolution(self, data, kind):
        voters = data.draw(st.lists(st.sampled_from(self.members + self.strangers), max_size=10))
        n = len(voters)
        votes_for = data.draw(st.integers(0, n + 1))
        against = data.draw(st.integers(0, max(0, n - votes_for)))
        self.attempt(lambda: self.meeting.vote(
            text="NQ", kind=kind, votes_for=votes_for, votes_against=against,
            abstentions=max(0, n - votes_for - against), voters=voters, decision_majority="1/2",
            admission_majority="2/3", by="s", correlation_id="c"))

    @rule(data=st.data())
    def speak(self, data):
        who = self.person(data)
        self.attempt(lambda: self.meeting.record_speaker(who, "ý kiến", by="s", correlation_id="c"))

    @rule(step=st.sampled_from(AGENDA_ORDER))
    def step(self, step):
        self.attempt(lambda: self.meeting.cover_step(step, "", by="s", correlation_id="c"))

    @rule(data=st.data(), paid=st.booleans())
    def dues(self, data, paid):
        who = self.person(data)
        self.attempt(lambda: self.meeting.collect_dues(who, "2026-01", paid, by="s", correlation_id="c"))

    @rule(data=st.data())
    def complete_and_close(self, data):
        missing = [m for m in self.members if m not in self.meeting.attendance]
        if missing and data.draw(st.booleans()):
            self.attempt(lambda: self.meeting.record_attendance(missing, [], by="s", correlation_id="c",
                                                                complete=False))
        self.attempt(lambda: self.meeting.close(START, AGENDA_ORDER, 90, by="s", correlation_id="c"))
        if self.meeting.status == "closed" and self.closed_state is None:
            self.closed_state = state_of(self.meeting)

    @precondition(lambda self: self.closed_state is not None)
    @rule(data=st.data(), present=st.booleans(), place=st.sampled_from(["P", "Q", "R"]))
    def correct(self, data, present, place):
        who = data.draw(st.sampled_from(self.members))
        if data.draw(st.booleans()):
            self.attempt(lambda: self.meeting.correct(f"attendance.{who}", {"present": present}, "sai", by="k",
                                                      correlation_id="c"))
        else:
            self.attempt(lambda: self.meeting.correct("place", place, "sai", by="k", correlation_id="c"))

    @invariant()
    def each_member_counted_once(self):
        counted = [e.member_id for e in self.events if isinstance(e, Meeting.MemberAttended | Meeting.MemberAbsent)]
        assert len(counted) == len(set(counted))
        assert set(counted) <= set(self.members)
        assert set(self.meeting.attendance) <= set(self.members)

    @invariant()
    def tallies_within_the_voting_base(self):
        official = {e["member_id"] for e in self.meeting.roster if Meeting.is_official(e)}
        for r in self.meeting.resolutions:
            cast = r["votes_for"] + r["votes_against"] + r["abstentions"]
            assert cast <= r["voting_base"] <= len(official)
            assert cast <= len(r["eligible_voters"])
            assert set(r["voters"]) <= set(r["eligible_voters"]) <= official
            if r["adopted"]:
                assert r["votes_for"] * 2 > r["voting_base"]

    @invariant()
    def after_closing_only_corrections(self):
        if self.closed_state is None:
            return
        seen_close = False
        for e in self.events:
            if isinstance(e, Meeting.Closed):
                seen_close = True
            elif seen_close:
                assert isinstance(e, Meeting.Corrected)
        corrected = {e.path for e in self.events if isinstance(e, Meeting.Corrected)}
        now = state_of(self.meeting)
        for key, value in self.closed_state.items():
            if key == "attendance":
                for mid, a in value.items():
                    assert now["attendance"][mid] == a or f"attendance.{mid}" in corrected
            elif key == "place":
                assert now["place"] == value or "place" in corrected
            else:
                assert now[key] == value, key


MeetingMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                            suppress_health_check=[HealthCheck.too_slow])
test_random_meetings_keep_the_invariants = MeetingMachine.TestCase
