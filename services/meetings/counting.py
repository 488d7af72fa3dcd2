"""Counting a cell meeting (design.md §2): attendance base, voting base, "able to decide", who may vote, and
whether a vote adopts its resolution. Pure functions over the meeting's roster entries (as of the meeting date)
and its attendance (member id -> {"present": bool, ...}); the Meeting aggregate (services.meetings.domain)
calls them. No framework code.

- attendance base = summoned members - temporarily elsewhere - exempted members who are absent;
- voting base = the official members of the attendance base: official members, and exempted members who are
  official (roster entry `official: true`) and attend; probationary members never vote;
- "able to decide": more than half (policy `decision_majority`) of the voting base is present.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from shared.errors import DomainError
from shared.i18n import term

Roster = list[dict[str, Any]]
Attendance = dict[str, dict[str, Any]]


def parse_fraction(text: str) -> Fraction:
    return Fraction(text.strip())


def entry_of(roster: Roster, member_id: str) -> dict[str, Any] | None:
    """The member's roster entry, None when the member was not summoned."""
    for e in roster:
        if e["member_id"] == member_id:
            return e
    return None


def is_official(entry: dict[str, Any]) -> bool:
    """Official on the date: status official, or exempted (or elsewhere) while official."""
    return entry["status"] == "official" or entry.get("official") is True


def present_ids(roster: Roster, attendance: Attendance) -> list[str]:
    return [mid for mid, a in attendance.items() if a["present"] and entry_of(roster, mid) is not None]


def attendance_base(roster: Roster, attendance: Attendance) -> int:
    base = 0
    for e in roster:
        if e["status"] == "temporarily_elsewhere":
            continue
        if e["status"] == "exempted" and not attendance.get(e["member_id"], {}).get("present"):
            continue
        base += 1
    return base


def voting_base(roster: Roster, attendance: Attendance) -> list[str]:
    """The official members of the attendance base: official members not temporarily elsewhere, and
    exempted official members who attend."""
    def counts(e: dict[str, Any]) -> bool:
        if e["status"] == "exempted":
            return is_official(e) and bool(attendance.get(e["member_id"], {}).get("present"))
        return e["status"] == "official"

    return [e["member_id"] for e in roster if counts(e)]


def eligible_voters(roster: Roster, attendance: Attendance) -> list[str]:
    """Official members recorded present: the only ones who may vote."""
    present = set(present_ids(roster, attendance))
    return [mid for mid in voting_base(roster, attendance) if mid in present]


def able_to_decide(roster: Roster, attendance: Attendance, decision_majority: str) -> bool:
    base = len(voting_base(roster, attendance))
    return base > 0 and len(eligible_voters(roster, attendance)) > parse_fraction(decision_majority) * base


def check_voters(roster: Roster, voters: list[str], eligible: set[str]) -> None:
    """Each listed voter once, summoned, official, in the voting base and recorded present."""
    seen: set[str] = set()
    for i, voter in enumerate(voters):
        field = f"voters.{i}"
        entry = entry_of(roster, voter)
        if voter in seen:
            raise DomainError(field, f"{voter} is listed twice", rule="vote.once", vi=f"{voter} được ghi hai lần")
        seen.add(voter)
        if entry is None:
            raise DomainError(field, f"{voter} is not a member of this cell and cannot vote", rule="vote.member",
                              vi=f"{voter} không phải đảng viên của chi bộ nên không được biểu quyết")
        name = entry["full_name"]
        if entry["status"] == "probationary" or not is_official(entry):
            raise DomainError(
                field, f"{name} is a probationary member: probationary members do not vote (Charter art. 3.4)",
                rule="vote.probationary",
                vi=f"{name} là đảng viên dự bị: đảng viên dự bị không có quyền biểu quyết (Điều lệ, điều 3)")
        if entry["status"] == "temporarily_elsewhere":
            raise DomainError(field, f"{name} is {entry['status']} on the meeting date and not in the voting base",
                              rule="vote.official", vi=f"{name} là {term(entry['status'])} vào ngày họp, không "
                              "thuộc số đảng viên biểu quyết")
        if voter not in eligible:
            raise DomainError(field, f"{name} is not recorded as present", rule="vote.present",
                              vi=f"{name} chưa được ghi là có mặt")


def check_tally(votes_for: int, votes_against: int, abstentions: int, voters: list[str]) -> None:
    """Votes are not negative and add up to the listed voters."""
    cast = votes_for + votes_against + abstentions
    if min(votes_for, votes_against, abstentions) < 0:
        raise DomainError("votes_for", "votes cannot be negative", rule="vote.tally", vi="số phiếu không thể âm")
    if cast != len(voters):
        raise DomainError("voters", f"{cast} votes counted but {len(voters)} voters listed",
                          rule="vote.tally_matches_voters",
                          vi=f"đếm được {cast} phiếu nhưng danh sách có {len(voters)} người biểu quyết")


def outcome(kind: str, votes_for: int, roster: Roster, attendance: Attendance, decision_majority: str,
            admission_majority: str) -> tuple[bool, str, str]:
    """(adopted, reason, threshold) of a vote: more than `decision_majority` of the voting base for an ordinary
    resolution, at least `admission_majority` for an admission or confirmation; never adopted (reason
    "not_able_to_decide") at a meeting that is not able to decide. A resolution voted down has the reason
    "majority_not_reached"; an adopted one has none."""
    base = voting_base(roster, attendance)
    two_thirds = kind in ("admission", "confirmation")
    fraction = parse_fraction(admission_majority if two_thirds else decision_majority)
    threshold = f">={admission_majority}" if two_thirds else f">{decision_majority}"
    reason = ""
    if not able_to_decide(roster, attendance, decision_majority):
        adopted, reason = False, "not_able_to_decide"
    elif two_thirds:
        adopted = votes_for >= fraction * len(base)
    else:
        adopted = votes_for > fraction * len(base)
    if not adopted and not reason:
        reason = "majority_not_reached"
    return adopted, reason, threshold
