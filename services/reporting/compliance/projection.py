"""Apply one integration event to the reporting tables (schema.py): the whole compliance projection.

Rules of the projection:
* Deterministic: each row is a function of the events applied, never of the clock, so a replay from
  position 0 gives the same tables (the replay compares digests).
* Each source on its own: members events only touch the tree and register tables, meetings events only the
  meeting tables. The two sources are consumed independently, so a meeting may arrive before the unit it
  belongs to; nothing here joins across them. The joins happen at query time (rollup.py).
* A meeting's figures (present, bases, able to decide...) and a member's yearly figures are recomputed from
  their rows whenever one of those rows changes: a handful of rows each, and always equal to a recount.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from services.policy import policy_on, policy_version
from services.reporting.compliance.periods import quarter_of
from shared.clock import VIETNAM
from shared.contracts import Envelope, Payload
from shared.contracts import meetings as mt
from shared.contracts import members as mb
from shared.stores import Sql

REGULAR_KINDS = ("regular", "combined")  # a combined session is a regular and a thematic meeting in one
THEMATIC_KINDS = ("thematic", "combined")


class ProjectionError(ValueError):
    """The event contradicts what this projection knows (for example attendance at an unknown meeting)."""


def month_of(day: dt.date) -> str:
    return day.strftime("%Y-%m")


def project(sql: Sql, envelope: Envelope, payload: Payload) -> None:
    index_event(sql, envelope, payload)
    if envelope.source == "members":
        _members(sql, payload)
    elif envelope.source == "meetings":
        _meetings(sql, envelope, payload)


@dataclass
class _Recounts:
    meetings: set[str] = field(default_factory=set)
    member_years: set[tuple[str, str]] = field(default_factory=set)
    index: list[tuple[object, ...]] = field(default_factory=list)  # rows of the events table


# Set while project_many applies a batch: the recounts asked for are collected here instead of run at once.
_deferred: ContextVar[_Recounts | None] = ContextVar("reporting_deferred_recounts", default=None)


def project_many(sql: Sql, events: Iterable[tuple[Envelope, Payload]]) -> None:
    """Apply events in order in ONE transaction (a replay's batch), recounting each meeting and member-year
    they touch once, at the end, instead of after every event.

    The tables end up exactly as `project` one event at a time leaves them: a recount is a function of the
    rows alone (refresh_meeting, refresh_member_year), no projection step reads a recounted figure, and the
    recounts run in the same transaction after the last row is written. A meeting's ~50 events (attendance,
    dues, steps) then cost one recount instead of fifty; the audit index (`events`) is written in one
    statement for the batch."""
    recounts = _Recounts()
    token = _deferred.set(recounts)
    try:
        for envelope, payload in events:
            project(sql, envelope, payload)
    finally:
        _deferred.reset(token)
    if recounts.index:
        sql.executemany(_INDEX, recounts.index)  # one pipelined statement (psycopg) instead of one trip each
    for meeting_id in sorted(recounts.meetings):
        refresh_meeting(sql, meeting_id)
    for member_id, year in sorted(recounts.member_years):
        refresh_member_year(sql, member_id, year)


# -- the audit index ---------------------------------------------------------------------------------------

def _subject(payload: Payload) -> tuple[str | None, str | None, str | None]:
    """(cell or unit, meeting, member) an event is about, for drill-down to its events."""
    def get(*names: str) -> str | None:
        for name in names:
            value = getattr(payload, name, None)
            if value is not None:
                return str(value)
        return None

    return (get("cell_id", "unit_id", "target_id", "to_cell_id"), get("meeting_id"),
            get("member_id", "supervisor_id", "guest_id"))


_INDEX = ("INSERT INTO events (source, position, event_id, type, version, stream_id, stream_version, occurred_at,"
          " recorded_at, recorded_by, correlation_id, cell_id, meeting_id, member_id, payload)"
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def index_event(sql: Sql, envelope: Envelope, payload: Payload) -> None:
    cell_id, meeting_id, member_id = _subject(payload)
    row = (envelope.source, envelope.position, str(envelope.event_id), envelope.type, envelope.version,
           str(envelope.stream_id), envelope.stream_version, envelope.occurred_at.isoformat(),
           envelope.recorded_at.isoformat(), envelope.recorded_by, envelope.correlation_id, cell_id, meeting_id,
           member_id, json.dumps(payload.model_dump(mode="json"), ensure_ascii=False, sort_keys=True))
    deferred = _deferred.get()
    if deferred is not None:  # nothing in the projection reads this table: written once per batch
        deferred.index.append(row)
        return
    sql.execute(_INDEX, row)


# -- members: the tree and the register ----------------------------------------------------------------------

def _members(sql: Sql, p: Payload) -> None:
    if isinstance(p, mb.OrgUnitCreated):
        uid, day = str(p.unit_id), p.effective_from.isoformat()
        sql.execute("INSERT INTO units (unit_id, kind, code, block, created_on) VALUES (?, ?, ?, ?, ?)",
                    (uid, p.kind, p.code, p.block, day))
        _dated(sql, "unit_names", "name", uid, day, p.name)
        _dated(sql, "unit_parents", "parent_id", uid, day, str(p.parent_id) if p.parent_id else None)
    elif isinstance(p, mb.OrgUnitRenamed):
        _dated(sql, "unit_names", "name", str(p.unit_id), p.effective_from.isoformat(), p.new_name)
    elif isinstance(p, mb.OrgUnitMoved):
        _dated(sql, "unit_parents", "parent_id", str(p.unit_id), p.effective_from.isoformat(), str(p.new_parent_id))
    elif isinstance(p, mb.CellsMerged):
        for source in p.source_ids:
            sql.execute("UPDATE units SET ended_on = ?, end_kind = 'merged', merged_into = ? WHERE unit_id = ?",
                        (p.effective_from.isoformat(), str(p.target_id), str(source)))
    elif isinstance(p, mb.CellDissolved):
        sql.execute("UPDATE units SET ended_on = ?, end_kind = 'dissolved' WHERE unit_id = ?",
                    (p.effective_from.isoformat(), str(p.unit_id)))
    elif isinstance(p, mb.MemberAdmitted):
        mid = str(p.member_id)
        since = p.official_since or (p.admitted_on if p.status == "official" else None)
        sql.execute("INSERT INTO members (member_id, code, full_name, admitted_on, official_since)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (mid, p.code, p.full_name, p.admitted_on.isoformat(), since.isoformat() if since else None))
        _move_home(sql, mid, str(p.cell_id), p.admitted_on)
    elif isinstance(p, mb.MemberOfficialized):
        sql.execute("UPDATE members SET official_since = ? WHERE member_id = ?",
                    (p.official_since.isoformat(), str(p.member_id)))
    elif isinstance(p, mb.MemberTransferred):
        if p.kind == "official":  # a temporary transfer leaves the home cell as it is
            _move_home(sql, str(p.member_id), str(p.to_cell_id), p.effective_from)
    elif isinstance(p, mb.MemberRemoved):
        mid, day = str(p.member_id), p.effective_from.isoformat()
        sql.execute("UPDATE members SET removed_on = ?, removal_reason = ? WHERE member_id = ?",
                    (day, p.reason, mid))
        sql.execute("UPDATE member_cells SET valid_to = ? WHERE member_id = ? AND valid_to IS NULL", (day, mid))
    elif isinstance(p, mb.SupervisorAssigned):
        sql.execute(
            "INSERT INTO supervisions (supervisor_id, cell_id, valid_from) VALUES (?, ?, ?)"
            " ON CONFLICT (supervisor_id, cell_id, valid_from) DO UPDATE SET valid_to = NULL",
            (str(p.supervisor_id), str(p.cell_id), p.effective_from.isoformat()))
    elif isinstance(p, mb.SupervisorUnassigned):
        sql.execute("UPDATE supervisions SET valid_to = ? WHERE supervisor_id = ? AND cell_id = ?"
                    " AND valid_to IS NULL", (p.effective_from.isoformat(), str(p.supervisor_id), str(p.cell_id)))
    # MemberExempted / MemberExemptionLifted / MemberTemporaryTransferEnded: the meetings' rosters carry each
    # member's status on the meeting date, which is what the figures count; the events stay in the index.


def _dated(sql: Sql, table: str, column: str, unit_id: str, day: str, value: str | None) -> None:
    """A value of a unit from `day` on (a later event for the same day replaces the earlier one)."""
    sql.execute(
        f"INSERT INTO {table} (unit_id, valid_from, {column}) VALUES (?, ?, ?)"
        f" ON CONFLICT (unit_id, valid_from) DO UPDATE SET {column} = excluded.{column}",
        (unit_id, day, value),
    )


def _move_home(sql: Sql, member_id: str, cell_id: str, day: dt.date) -> None:
    """The member's home cell is `cell_id` from `day`: the open spell ends there, a new one starts."""
    iso = day.isoformat()
    sql.execute("UPDATE member_cells SET valid_to = ? WHERE member_id = ? AND valid_to IS NULL AND valid_from < ?",
                (iso, member_id, iso))
    sql.execute(
        "INSERT INTO member_cells (member_id, valid_from, cell_id) VALUES (?, ?, ?)"
        " ON CONFLICT (member_id, valid_from) DO UPDATE SET cell_id = excluded.cell_id, valid_to = NULL",
        (member_id, iso, cell_id),
    )


# -- meetings -----------------------------------------------------------------------------------------------

def _meetings(sql: Sql, envelope: Envelope, p: Payload) -> None:
    if isinstance(p, mt.MeetingScheduled):
        day = p.scheduled_for.astimezone(VIETNAM).date()
        sql.execute(
            "INSERT INTO meetings (meeting_id, cell_id, kind, topic, status, date, month, quarter, recorded_by)"
            " VALUES (?, ?, ?, ?, 'scheduled', ?, ?, ?, ?)",
            (str(p.meeting_id), str(p.cell_id), p.kind, p.topic, day.isoformat(), month_of(day), quarter_of(day),
             envelope.recorded_by))
        return
    if isinstance(p, mt.MeetingHeld):
        _held(sql, envelope, p)
        return
    mid = str(p.meeting_id)  # type: ignore[attr-defined]
    meeting = sql.execute("SELECT date, status FROM meetings WHERE meeting_id = ?", (mid,)).fetchone()
    if meeting is None:
        raise ProjectionError(f"{envelope.type} for meeting {mid}, which reporting does not know")
    if isinstance(p, mt.MeetingCancelled):
        sql.execute("UPDATE meetings SET status = 'cancelled' WHERE meeting_id = ?", (mid,))
        return
    touched: set[str] = set()  # members whose yearly figures change
    if isinstance(p, mt.MemberAttended | mt.MemberAbsent):
        present = isinstance(p, mt.MemberAttended)
        outcome = _outcome(present, not present and p.excused)  # type: ignore[union-attr]
        _set_outcome(sql, envelope.type, mid, str(p.member_id), outcome, "" if present else p.reason)  # type: ignore[union-attr]
        touched.add(str(p.member_id))
    elif isinstance(p, mt.GuestAttended):
        sql.execute(
            "INSERT INTO meeting_guests (meeting_id, guest_id, full_name, assigned) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (meeting_id, guest_id) DO UPDATE SET assigned = excluded.assigned",
            (mid, str(p.guest_id), p.full_name, int(p.is_assigned_supervisor)))
    elif isinstance(p, mt.AgendaStepCovered):
        sql.execute("INSERT INTO meeting_steps (meeting_id, step) VALUES (?, ?)"
                    " ON CONFLICT (meeting_id, step) DO NOTHING", (mid, p.step))
    elif isinstance(p, mt.MemberSpoke):
        # a guest or a temporary participant may speak too; only the cell's own members count here
        sql.execute("UPDATE meeting_roster SET spoke = 1 WHERE meeting_id = ? AND member_id = ?",
                    (mid, str(p.member_id)))
    elif isinstance(p, mt.ResolutionPassed | mt.ResolutionRejected):
        sql.execute(
            "INSERT INTO resolutions (resolution_id, meeting_id, cell_id, date, kind, text, passed, reason,"
            " votes_for, votes_against, abstentions, voting_base) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(p.resolution_id), mid, str(p.cell_id), meeting["date"], p.kind, p.text,
             int(isinstance(p, mt.ResolutionPassed)), p.reason, p.votes_for, p.votes_against, p.abstentions,
             p.voting_base))
    elif isinstance(p, mt.ResolutionReviewed):
        # the first review decides "in time"; a later one updates the outcome
        sql.execute(
            "UPDATE resolutions SET review_meeting_id = COALESCE(review_meeting_id, ?),"
            " reviewed_on = COALESCE(reviewed_on, ?), review_outcome = ? WHERE resolution_id = ?",
            (mid, meeting["date"], p.outcome, str(p.resolution_id)))
    elif isinstance(p, mt.DuesCollected):
        sql.execute(
            "INSERT INTO dues (member_id, month, paid, meeting_id, cell_id) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (member_id, month) DO UPDATE SET paid = excluded.paid, meeting_id = excluded.meeting_id,"
            " cell_id = excluded.cell_id",
            (str(p.member_id), p.month, int(p.paid), mid, str(p.cell_id)))
        refresh_member_year(sql, str(p.member_id), p.month[:4])
    elif isinstance(p, mt.MeetingClosed):
        sql.execute("UPDATE meetings SET status = 'closed', closed_at = ? WHERE meeting_id = ?",
                    (p.minutes_approved_at.isoformat(), mid))
    elif isinstance(p, mt.MeetingCorrected):
        touched |= _corrected(sql, envelope, mid, p)
    if not isinstance(p, mt.ResolutionReviewed | mt.DuesCollected | mt.MeetingClosed):  # these change no count
        refresh_meeting(sql, mid)
    for member_id in touched:
        refresh_member_year(sql, member_id, meeting["date"][:4])


def _held(sql: Sql, envelope: Envelope, p: mt.MeetingHeld) -> None:
    mid = str(p.meeting_id)
    minutes = int((p.ended_at - p.started_at).total_seconds() // 60)
    values = (str(p.cell_id), p.kind, p.topic, p.date.isoformat(), month_of(p.date), quarter_of(p.date),
              p.started_at.isoformat(), p.ended_at.isoformat(), minutes, p.policy_version)
    scheduled = sql.execute("SELECT 1 FROM meetings WHERE meeting_id = ?", (mid,)).fetchone() is not None
    if scheduled:  # held as scheduled: the schedule's row becomes the meeting's
        sql.execute(
            "UPDATE meetings SET cell_id = ?, kind = ?, topic = ?, date = ?, month = ?, quarter = ?, started_at = ?,"
            " ended_at = ?, minutes = ?, policy_version = ?, status = 'held' WHERE meeting_id = ?", (*values, mid))
    else:
        sql.execute(
            "INSERT INTO meetings (cell_id, kind, topic, date, month, quarter, started_at, ended_at, minutes,"
            " policy_version, meeting_id, status, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'held', ?)",
            (*values, mid, envelope.recorded_by))
    for entry in p.roster:
        official = entry.official if entry.official is not None else entry.status == "official"
        sql.execute(
            "INSERT INTO meeting_roster (meeting_id, member_id, full_name, status, official, date, cell_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (mid, str(entry.member_id), entry.full_name, entry.status, int(official), p.date.isoformat(),
             str(p.cell_id)))
    refresh_meeting(sql, mid)
    for entry in p.roster:
        refresh_member_year(sql, str(entry.member_id), p.date.isoformat()[:4])


def _outcome(present: bool, excused: bool) -> str:
    if present:
        return "present"
    return "absent_excused" if excused else "absent_unexcused"


def _set_outcome(sql: Sql, what: str, meeting_id: str, member_id: str, outcome: str, reason: str) -> None:
    updated = sql.execute("UPDATE meeting_roster SET outcome = ?, reason = ? WHERE meeting_id = ? AND member_id = ?",
                          (outcome, reason, meeting_id, member_id)).rowcount
    if updated != 1:
        raise ProjectionError(f"{what} for {member_id}, who is not on the roster of meeting {meeting_id}")


def _corrected(sql: Sql, envelope: Envelope, mid: str, p: mt.MeetingCorrected) -> set[str]:
    """A signed correction (đính chính): the figures follow the corrected record. Returns members touched."""
    value = p.new_value
    if p.path.startswith("attendance."):
        member_id = p.path.removeprefix("attendance.")
        data = value if isinstance(value, dict) else {}
        outcome = _outcome(bool(data.get("present")), bool(data.get("excused")))
        _set_outcome(sql, envelope.type, mid, member_id, outcome, str(data.get("reason") or ""))
        return {member_id}
    if p.path in ("start_time", "end_time") and isinstance(value, str):
        row = sql.execute("SELECT started_at, ended_at FROM meetings WHERE meeting_id = ?", (mid,)).fetchone()
        if row["started_at"] is None:
            return set()
        start, end = dt.datetime.fromisoformat(row["started_at"]), dt.datetime.fromisoformat(row["ended_at"])
        at = dt.time.fromisoformat(value)
        if p.path == "start_time":
            start = start.replace(hour=at.hour, minute=at.minute)
        else:
            end = end.replace(hour=at.hour, minute=at.minute)
        sql.execute("UPDATE meetings SET started_at = ?, ended_at = ?, minutes = ? WHERE meeting_id = ?",
                    (start.isoformat(), end.isoformat(), int((end - start).total_seconds() // 60), mid))
    elif p.path == "topic":
        sql.execute("UPDATE meetings SET topic = ? WHERE meeting_id = ?", (value, mid))
    return set()


# Each part of the attendance base, counted over a meeting's roster rows (design.md §2): the base is the
# summoned members minus those temporarily elsewhere minus exempted members who are absent; the voting base its
# official members; voters present, the official members of the base who are present.
_IN_BASE = "status <> 'temporarily_elsewhere' AND (status <> 'exempted' OR outcome = 'present')"
_ROSTER_COUNTS = (
    "SELECT"
    " COALESCE(SUM(CASE WHEN outcome = 'present' THEN 1 ELSE 0 END), 0) AS present,"
    " COALESCE(SUM(CASE WHEN outcome = 'pending' THEN 1 ELSE 0 END), 0) AS pending,"
    " COALESCE(SUM(CASE WHEN outcome = 'present' AND spoke = 1 THEN 1 ELSE 0 END), 0) AS speakers,"
    f" COALESCE(SUM(CASE WHEN {_IN_BASE} THEN 1 ELSE 0 END), 0) AS base,"
    f" COALESCE(SUM(CASE WHEN {_IN_BASE} AND official = 1 THEN 1 ELSE 0 END), 0) AS voting_base,"
    f" COALESCE(SUM(CASE WHEN {_IN_BASE} AND official = 1 AND outcome = 'present' THEN 1 ELSE 0 END), 0)"
    " AS voters_present,"
    " (SELECT COUNT(*) FROM meeting_guests g WHERE g.meeting_id = ? AND g.assigned = 1) AS supervisor,"
    " (SELECT COUNT(*) FROM resolutions v WHERE v.meeting_id = ? AND v.passed = 1) AS passed,"
    " (SELECT COUNT(*) FROM resolutions v WHERE v.meeting_id = ? AND v.passed = 0) AS rejected"
    " FROM meeting_roster WHERE meeting_id = ?"
)


def refresh_meeting(sql: Sql, meeting_id: str) -> None:
    """Recount a meeting's figures from its rows (design.md §2 counting rules), in a few statements: the
    projection runs once per event, and a replay of a city's year is millions of them."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.meetings.add(meeting_id)
        return
    m = sql.execute("SELECT kind, minutes, policy_version FROM meetings WHERE meeting_id = ?",
                    (meeting_id,)).fetchone()
    if m["policy_version"] is None:  # scheduled, not held yet: no figures
        return
    c = sql.execute(_ROSTER_COUNTS, (meeting_id,) * 4).fetchone()
    policy = policy_version(m["policy_version"])
    kind = m["kind"]
    duration_ok = None
    full_procedure = None
    if kind in REGULAR_KINDS:
        minimum = policy.combined_min_minutes if kind == "combined" else policy.regular_min_minutes
        duration_ok = int(m["minutes"] >= minimum)
        required = policy.required_agenda_steps
        covered = sql.scalar(
            f"SELECT COUNT(*) FROM meeting_steps WHERE meeting_id = ? AND step IN ({', '.join('?' * len(required))})",
            (meeting_id, *required)) if required else 0
        full_procedure = int(int(covered) == len(set(required)))
    voters, voting_base = int(c["voters_present"]), int(c["voting_base"])
    sql.execute(
        "UPDATE meetings SET present = ?, attendance_base = ?, voting_base = ?, voters_present = ?, pending = ?,"
        " speakers_present = ?, able_to_decide = ?, duration_ok = ?, full_procedure = ?, supervisor_present = ?,"
        " resolutions_passed = ?, resolutions_rejected = ? WHERE meeting_id = ?",
        (int(c["present"]), int(c["base"]), voting_base, voters, int(c["pending"]), int(c["speakers"]),
         int(voters * 2 > voting_base > 0), duration_ok, full_procedure, int(int(c["supervisor"]) > 0),
         int(c["passed"]), int(c["rejected"]), meeting_id),
    )


def refresh_member_year(sql: Sql, member_id: str, year: str) -> None:
    """Recount a member's year: meetings summoned to (exempted and temporarily-elsewhere left out, design.md
    §2), attended, excused and unexcused absences, the longest run of consecutive absences, dues unpaid."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.member_years.add((member_id, year))
        return
    rows = sql.execute(
        # roster rows exist only for held meetings (a cancelled meeting was never held)
        "SELECT outcome, full_name, date, cell_id FROM meeting_roster"
        " WHERE member_id = ? AND date >= ? AND date <= ? AND status IN ('official', 'probationary')"
        " ORDER BY date, meeting_id",
        (member_id, f"{year}-01-01", f"{year}-12-31"),
    ).fetchall()
    unpaid_rows = sql.execute("SELECT month, cell_id FROM dues WHERE member_id = ? AND paid = 0"
                              " AND month >= ? AND month <= ? ORDER BY month",
                              (member_id, f"{year}-01", f"{year}-12")).fetchall()
    if not rows and not unpaid_rows:
        sql.execute("DELETE FROM member_years WHERE member_id = ? AND year = ?", (member_id, year))
        return
    attended = excused = unexcused = run = longest = 0
    for r in rows:
        outcome = r["outcome"]
        if outcome == "pending":
            continue  # not recorded yet: neither an absence nor an attendance
        attended += outcome == "present"
        excused += outcome == "absent_excused"
        unexcused += outcome == "absent_unexcused"
        run = 0 if outcome == "present" else run + 1
        longest = max(longest, run)
    if rows:
        last = rows[-1]
        cell_id, last_date, name = last["cell_id"], last["date"], last["full_name"]
    else:
        cell_id, last_date = unpaid_rows[-1]["cell_id"], f"{unpaid_rows[-1]['month']}-01"
        # from the meetings' own rosters, not the register: this projection never reads across sources
        name = sql.scalar("SELECT MIN(full_name) FROM meeting_roster WHERE member_id = ?", (member_id,)) or member_id
    policy = policy_on(dt.date.fromisoformat(last_date))
    reasons = []
    if unexcused >= policy.unexcused_absences_flag:
        reasons.append("absence.unexcused")
    if longest > policy.max_consecutive_absences:
        reasons.append("absence.consecutive")
    if len(unpaid_rows) >= policy.dues_unpaid_flag:
        reasons.append("dues.unpaid")
    sql.execute(
        "INSERT INTO member_years (member_id, year, full_name, cell_id, last_date, summoned, attended, excused,"
        " unexcused, longest_absence_run, dues_unpaid, flagged, flag_reasons)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (member_id, year) DO UPDATE SET"
        " full_name = excluded.full_name, cell_id = excluded.cell_id, last_date = excluded.last_date,"
        " summoned = excluded.summoned, attended = excluded.attended, excused = excluded.excused,"
        " unexcused = excluded.unexcused, longest_absence_run = excluded.longest_absence_run,"
        " dues_unpaid = excluded.dues_unpaid, flagged = excluded.flagged, flag_reasons = excluded.flag_reasons",
        (member_id, year, name, cell_id, last_date, len(rows), attended, excused, unexcused, longest,
         len(unpaid_rows), int(bool(reasons)), ",".join(reasons)),
    )
