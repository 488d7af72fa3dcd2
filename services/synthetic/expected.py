"""The compliance figures a generated year must give, counted from the generator's own facts.

Deliberately NOT reporting's code: this counts, in plain Python over what the generator decided (who was
present at which meeting, which resolution was reviewed when, who sits in which cell at the year's end), the
figures design.md §2 and §5 define, so a mismatch with reporting's roll-up is a finding about one of the two.
It only reads the policy's numbers (services/policy.yml), which both sides must obey.

Every figure is an integer count (a ratio is its `count` and `of`), so the comparison is exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from services.policy import policy_on

REGULAR = ("regular", "combined")  # a combined session is a regular and a thematic meeting in one
THEMATIC = ("thematic", "combined")


def month_end(year: int, month: int) -> dt.date:
    return (dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)


def quarter_end(year: int, quarter: int) -> dt.date:
    return month_end(year, 3 * quarter)


@dataclass
class CellFacts:
    cell_id: str
    code: str
    block: str
    district: str  # the district's code
    ends: dt.date | None = None  # merged into another cell from this day

    def exists_on(self, day: dt.date) -> bool:  # every generated cell was created decades before the year
        return self.ends is None or self.ends > day


@dataclass
class MeetingFacts:
    meeting_id: str
    cell_id: str
    kind: str
    date: dt.date
    minutes: int
    present: int
    base: int
    voting_base: int
    voters_present: int
    speakers: int
    steps: frozenset[str]
    supervised: bool  # a committee member was assigned to the cell on the day
    supervisor_present: bool  # an assigned committee member attended


@dataclass
class ResolutionFacts:
    cell_id: str
    date: dt.date
    passed: bool
    reviewed_on: dt.date | None = None


@dataclass
class MemberFacts:
    cell_id: str  # home cell (official transfers and merges move it; a temporary transfer does not)
    official_since: dt.date | None
    removed_on: dt.date | None = None


@dataclass
class Expected:
    """Facts recorded while generating, and the figures they give for any group of cells."""

    year: int
    report_date: dt.date
    cells: dict[str, CellFacts] = field(default_factory=dict)
    meetings: list[MeetingFacts] = field(default_factory=list)
    resolutions: dict[str, ResolutionFacts] = field(default_factory=dict)
    members: dict[str, MemberFacts] = field(default_factory=dict)
    # member -> [(date, meeting id, outcome, cell)] for the meetings they were summoned to as official/probationary
    attendance: dict[str, list[tuple[dt.date, str, str, str]]] = field(default_factory=dict)
    dues: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)  # (member, month) -> (cell, paid)

    # -- recording ------------------------------------------------------------------------------------------

    def meeting(self, facts: MeetingFacts, outcomes: Iterable[tuple[str, str, str]]) -> None:
        """A held meeting and each summoned member's (member, status on the day, outcome)."""
        self.meetings.append(facts)
        for member_id, status, outcome in outcomes:
            if status in ("official", "probationary"):  # exempted and elsewhere are not summoned for the year
                self.attendance.setdefault(member_id, []).append((facts.date, facts.meeting_id, outcome,
                                                                  facts.cell_id))

    def review(self, resolution_id: str, day: dt.date) -> None:
        r = self.resolutions[resolution_id]
        if r.reviewed_on is None:  # the first review decides "in time"
            r.reviewed_on = day

    # -- the figures ------------------------------------------------------------------------------------------

    def figures(self, keep: Callable[[CellFacts], bool] = lambda cell: True) -> dict[str, Any]:
        year, today = self.year, self.report_date
        cells = {c.cell_id: c for c in self.cells.values() if keep(c)}
        meetings = [m for m in self.meetings if m.cell_id in cells and m.date.year == year and m.date <= today]
        regular = [m for m in meetings if m.kind in REGULAR]
        months_with_regular = {(m.cell_id, m.date.month) for m in regular}
        quarters_with_thematic = {(m.cell_id, (m.date.month - 1) // 3 + 1) for m in meetings if m.kind in THEMATIC}
        every_month = every_quarter = cell_months = regular_months = 0
        month_cells = quarter_cells = 0
        for cell in cells.values():
            due = [m for m in range(1, 13) if cell.exists_on(month_end(year, m)) and month_end(year, m) < today]
            if due:
                month_cells += 1
                held = [(cell.cell_id, m) in months_with_regular for m in due]
                every_month += all(held)
                cell_months += len(due)
                regular_months += sum(held)
            quarters = [q for q in range(1, 5) if cell.exists_on(quarter_end(year, q)) and quarter_end(year, q) < today]
            if quarters:
                quarter_cells += 1
                every_quarter += all((cell.cell_id, q) in quarters_with_thematic for q in quarters)
        policy = policy_on
        present = sum(m.present for m in meetings)
        speakers = sum(m.speakers for m in meetings)
        supervised = [m for m in meetings if m.supervised]
        reviews = [s for s in self._review_statuses(cells) if s != "not_yet_due"]
        end_day = min(dt.date(year, 12, 31), today)
        official: dict[str, int] = {}
        for member in self.members.values():
            if member.official_since is not None and member.official_since <= end_day and \
                    (member.removed_on is None or member.removed_on > end_day):
                official[member.cell_id] = official.get(member.cell_id, 0) + 1
        at_end = [c for c in cells.values() if c.exists_on(end_day)]
        minimum = policy(end_day).min_official_members
        dues = [paid for (member, month), (cell, paid) in self.dues.items() if cell in cells and month[:4] == str(year)]
        return {
            "cells": len({c.cell_id for c in cells.values()}),
            "regular_every_month": {"count": every_month, "of": month_cells},
            "regular_cell_months": {"count": regular_months, "of": cell_months},
            "thematic_every_quarter": {"count": every_quarter, "of": quarter_cells},
            "meetings": len(meetings),
            "attendance": {"present": present, "base": sum(m.base for m in meetings)},
            "able_to_decide": {"count": sum(m.voters_present * 2 > m.voting_base > 0 for m in meetings),
                               "of": len(meetings)},
            "full_procedure": {"count": sum(set(policy(m.date).required_agenda_steps) <= m.steps for m in regular),
                               "of": len(regular)},
            "minimum_duration": {"count": sum(m.minutes >= _minimum(m) for m in regular), "of": len(regular)},
            "participation": {"speakers": speakers, "present": present},
            "resolutions_passed": sum(1 for r in self.resolutions.values()
                                      if r.passed and r.cell_id in cells and r.date.year == year),
            "resolutions_reviewed_in_time": {"count": sum(s == "in_time" for s in reviews), "of": len(reviews)},
            "supervisor_coverage": {"count": sum(m.supervisor_present for m in supervised), "of": len(supervised)},
            "flagged_members": len(self._flagged(cells)),
            "cells_below_minimum": {"count": sum(official.get(c.cell_id, 0) < minimum for c in at_end),
                                    "of": len(at_end)},
            "dues": {"count": sum(dues), "of": len(dues)},
        }

    def _review_statuses(self, cells: dict[str, CellFacts]) -> list[str]:
        """Each passed resolution's review status on the report date: due by the cell's next regular
        meeting, or by the end of the following month if the cell held none since."""
        today = self.report_date
        regular_days: dict[str, list[dt.date]] = {}
        for m in self.meetings:
            if m.kind in REGULAR and m.date <= today:
                regular_days.setdefault(m.cell_id, []).append(m.date)
        out = []
        for r in self.resolutions.values():
            if not r.passed or r.cell_id not in cells or r.date.year != self.year:
                continue
            later = [d for d in regular_days.get(r.cell_id, []) if d > r.date]
            following = month_end(r.date.year, r.date.month + 1) if r.date.month < 12 else month_end(r.date.year + 1, 1)
            due = min(later) if later else following
            if r.reviewed_on is not None and r.reviewed_on <= today:
                out.append("in_time" if r.reviewed_on <= due else "late")
            else:
                out.append("overdue" if due < today else "not_yet_due")
        return out

    def _flagged(self, cells: dict[str, CellFacts]) -> set[str]:
        """Members flagged for the year: too many unexcused absences or too long a run of absences; counted
        under the cell of their latest meeting of the year (dues: the generator records none unpaid)."""
        flagged = set()
        for member_id, rows in self.attendance.items():
            rows = sorted(r for r in rows if r[0].year == self.year and r[0] <= self.report_date)
            if not rows or rows[-1][3] not in cells:
                continue
            unexcused = sum(r[2] == "absent_unexcused" for r in rows)
            run = longest = 0
            for r in rows:
                run = 0 if r[2] == "present" else run + 1
                longest = max(longest, run)
            policy = policy_on(rows[-1][0])
            if unexcused >= policy.unexcused_absences_flag or longest > policy.max_consecutive_absences:
                flagged.add(member_id)
        if any(not paid for _, paid in self.dues.values()):
            raise NotImplementedError("unpaid dues: the generator records none, so this count does not handle them")
        return flagged

    def as_json(self, groups: dict[str, dict[str, Callable[[CellFacts], bool]]]) -> dict[str, Any]:
        return {"city": self.figures(),
                **{name: {key: self.figures(keep) for key, keep in group.items()} for name, group in groups.items()}}


def _minimum(m: MeetingFacts) -> int:
    policy = policy_on(m.date)
    return policy.combined_min_minutes if m.kind == "combined" else policy.regular_min_minutes
