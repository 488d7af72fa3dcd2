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
from typing import Any

from services.policy import policy_on, policy_version
from services.reporting.compliance import schema
from services.reporting.compliance.periods import quarter_of
from shared.clock import VIETNAM
from shared.contracts import Envelope, Payload
from shared.contracts import meetings as mt
from shared.contracts import members as mb
from shared.stores import Sql

REGULAR_KINDS, THEMATIC_KINDS = schema.REGULAR_KINDS, schema.THEMATIC_KINDS


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
class _Writes:
    """Consecutive writes of one statement, sent together: multi-row VALUES for inserts (`Sql.insert_many`), one
    pipelined `executemany` otherwise (one round trip, not one each)."""

    statement: str
    rows: list[tuple[object, ...]]
    expect_each: bool  # each row must change exactly one row (else the batch is refused: ProjectionError)


@dataclass
class _Recounts:
    """What a batch (project_many) defers: recounts, the audit index, and its writes in order."""

    meetings: set[str] = field(default_factory=set)
    member_years: set[tuple[str, str]] = field(default_factory=set)
    officials: set[str] = field(default_factory=set)  # members whose official spells are written again
    index: list[tuple[object, ...]] = field(default_factory=list)  # rows of the events table
    writes: list[_Writes] = field(default_factory=list)
    meeting_dates: dict[str, str] = field(default_factory=dict)  # meeting -> date, as read or written in this batch
    looked_up: set[str] = field(default_factory=set)  # meetings whose row was read at the start: absent = unknown


# Set while project_many applies a batch: the recounts asked for are collected here instead of run at once.
_deferred: ContextVar[_Recounts | None] = ContextVar("reporting_deferred_recounts", default=None)


def project_many(sql: Sql, events: Iterable[tuple[Envelope, Payload]]) -> None:
    """Apply events in order in ONE transaction (a replay's batch, a live consumer's batch), with far fewer
    round trips to the database than `project` one event at a time:

    * writes are queued in order and consecutive writes of the same statement go as one pipelined
      `executemany` (a meeting's roster, its attendance updates, its dues); the queue is flushed, in order,
      before any read, so every read sees every earlier write;
    * a meeting's date, which most meeting events look up, is remembered from the rows this batch wrote;
    * each meeting and member-year touched is recounted once, at the end, and the recounts of the whole batch
      are read and written set-wise (a few statements per batch, not per meeting or member);
    * the audit index (`events`) is written in one statement for the batch.

    The tables end up exactly as `project` one event at a time leaves them: the writes run in the same order,
    a recount is a function of the rows alone (the batch and the single path share one implementation), no
    projection step reads a recounted figure, and the recounts run after the last row is written. An update
    that must change one row (attendance of a member on the roster) is checked per group: a group that changed
    fewer rows refuses the batch (ProjectionError), and the caller applies it again one event at a time, which
    names the event (tests/unit/test_replay.py, test_tracked_applier.py)."""
    events = list(events)
    recounts = _Recounts()
    _look_up_dates(sql, recounts, events)
    token = _deferred.set(recounts)
    try:
        for envelope, payload in events:
            project(sql, envelope, payload)
    finally:
        _deferred.reset(token)
    _flush(sql, recounts)
    if recounts.index:
        sql.insert_many(_INDEX, recounts.index)  # a few multi-row statements instead of one per event
    recount_meetings(sql, sorted(recounts.meetings))
    recount_meeting_years(sql, sorted(recounts.meetings))
    recount_member_years(sql, sorted(recounts.member_years))
    recount_official_spells(sql, sorted(recounts.officials))


def _write(sql: Sql, statement: str, params: tuple[object, ...], *, expect_one: str | None = None) -> None:
    """Run a write now, or queue it in the batch being applied. `expect_one`: the error when it does not change
    exactly one row."""
    batch = _deferred.get()
    if batch is None:
        if sql.execute(statement, params).rowcount != 1 and expect_one is not None:
            raise ProjectionError(expect_one)
        return
    last = batch.writes[-1] if batch.writes else None
    if last is not None and last.statement == statement and last.expect_each == (expect_one is not None):
        last.rows.append(params)
    else:
        batch.writes.append(_Writes(statement, [params], expect_one is not None))


def _read(sql: Sql, statement: str, params: tuple[object, ...] = ()) -> Sql:
    """Run a read after every write queued before it."""
    batch = _deferred.get()
    if batch is not None:
        _flush(sql, batch)
    return sql.execute(statement, params)


def _flush(sql: Sql, batch: _Recounts) -> None:
    for group in batch.writes:
        if len(group.rows) == 1:
            changed = sql.execute(group.statement, group.rows[0]).rowcount
        elif group.statement.startswith("INSERT"):
            changed = sql.insert_many(group.statement, group.rows)
        else:
            changed = sql.executemany(group.statement, group.rows).rowcount
        if group.expect_each and changed != len(group.rows):
            batch.writes.clear()
            raise ProjectionError(f"{len(group.rows) - changed} of {len(group.rows)} updates of this batch found"
                                  " no row (an event about a member not on a meeting's roster)")
    batch.writes.clear()


def _look_up_dates(sql: Sql, batch: _Recounts, events: list[tuple[Envelope, Payload]]) -> None:
    """Read the dates of every meeting the batch's events name, in one statement per 500, before any of them is
    applied. Without it, each meeting's first event read its row on its own, and a read flushes the writes queued
    before it, so a batch of new meetings went out as many small groups instead of a few large ones (the
    profile of a replay: a fifth of the projecting process). Meetings rows are only ever inserted (scheduled
    or held) and never deleted, and every insert in the batch records its date (`_known_date`), so a meeting
    looked up here and not found is one reporting does not know, until an event of this batch creates it."""
    ids = sorted({str(p.meeting_id) for e, p in events  # type: ignore[attr-defined]
                  if e.source == "meetings" and getattr(p, "meeting_id", None) is not None})
    for chunk in _chunks(ids):
        found = _by_key(sql, "SELECT meeting_id, date FROM meetings WHERE meeting_id IN ({marks})", chunk)
        batch.meeting_dates.update((mid, str(rows[0]["date"])) for mid, rows in found.items())
    batch.looked_up.update(ids)


def _meeting_date(sql: Sql, meeting_id: str) -> str | None:
    """The meeting's date, None when reporting does not know the meeting."""
    batch = _deferred.get()
    if batch is not None and meeting_id in batch.meeting_dates:
        return batch.meeting_dates[meeting_id]
    if batch is not None and meeting_id in batch.looked_up:
        return None
    row = _read(sql, "SELECT date FROM meetings WHERE meeting_id = ?", (meeting_id,)).fetchone()
    if row is not None and batch is not None:
        batch.meeting_dates[meeting_id] = str(row["date"])
    return None if row is None else str(row["date"])


def _known_date(meeting_id: str, day: str) -> None:
    batch = _deferred.get()
    if batch is not None:
        batch.meeting_dates[meeting_id] = day


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
        _write(sql, "INSERT INTO units (unit_id, kind, code, block, created_on) VALUES (?, ?, ?, ?, ?)",
                    (uid, p.kind, p.code, p.block, day))
        _dated(sql, "unit_names", "name", uid, day, p.name)
        _dated(sql, "unit_parents", "parent_id", uid, day, str(p.parent_id) if p.parent_id else None)
    elif isinstance(p, mb.OrgUnitRenamed):
        _dated(sql, "unit_names", "name", str(p.unit_id), p.effective_from.isoformat(), p.new_name)
    elif isinstance(p, mb.OrgUnitMoved):
        _dated(sql, "unit_parents", "parent_id", str(p.unit_id), p.effective_from.isoformat(), str(p.new_parent_id))
    elif isinstance(p, mb.CellsMerged):
        for source in p.source_ids:
            _write(sql, "UPDATE units SET ended_on = ?, end_kind = 'merged', merged_into = ? WHERE unit_id = ?",
                        (p.effective_from.isoformat(), str(p.target_id), str(source)))
    elif isinstance(p, mb.CellDissolved):
        _write(sql, "UPDATE units SET ended_on = ?, end_kind = 'dissolved' WHERE unit_id = ?",
                    (p.effective_from.isoformat(), str(p.unit_id)))
    elif isinstance(p, mb.MemberAdmitted):
        mid = str(p.member_id)
        since = p.official_since or (p.admitted_on if p.status == "official" else None)
        _write(sql, "INSERT INTO members (member_id, code, full_name, admitted_on, official_since)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (mid, p.code, p.full_name, p.admitted_on.isoformat(), since.isoformat() if since else None))
        _move_home(sql, mid, str(p.cell_id), p.admitted_on)
        refresh_official(sql, mid)
    elif isinstance(p, mb.MemberOfficialized):
        _write(sql, "UPDATE members SET official_since = ? WHERE member_id = ?",
                    (p.official_since.isoformat(), str(p.member_id)))
        refresh_official(sql, str(p.member_id))
    elif isinstance(p, mb.MemberTransferred):
        if p.kind == "official":  # a temporary transfer leaves the home cell as it is
            _move_home(sql, str(p.member_id), str(p.to_cell_id), p.effective_from)
            refresh_official(sql, str(p.member_id))
    elif isinstance(p, mb.MemberRemoved):
        mid, day = str(p.member_id), p.effective_from.isoformat()
        _write(sql, "UPDATE members SET removed_on = ?, removal_reason = ? WHERE member_id = ?",
                    (day, p.reason, mid))
        _write(sql, "UPDATE member_cells SET valid_to = ? WHERE member_id = ? AND valid_to IS NULL", (day, mid))
        refresh_official(sql, mid)
    elif isinstance(p, mb.SupervisorAssigned):
        _write(sql,
            "INSERT INTO supervisions (supervisor_id, cell_id, valid_from) VALUES (?, ?, ?)"
            " ON CONFLICT (supervisor_id, cell_id, valid_from) DO UPDATE SET valid_to = NULL",
            (str(p.supervisor_id), str(p.cell_id), p.effective_from.isoformat()))
    elif isinstance(p, mb.SupervisorUnassigned):
        _write(sql, "UPDATE supervisions SET valid_to = ? WHERE supervisor_id = ? AND cell_id = ?"
                    " AND valid_to IS NULL", (p.effective_from.isoformat(), str(p.supervisor_id), str(p.cell_id)))
    # MemberExempted / MemberExemptionLifted / MemberTemporaryTransferEnded: the meetings' rosters carry each
    # member's status on the meeting date, which is what the figures count; the events stay in the index.


def refresh_official(sql: Sql, member_id: str) -> None:
    """Write the member's official spells again (recount_official_spells); in a batch, once at its end."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.officials.add(member_id)
        return
    recount_official_spells(sql, [member_id])


def recount_official_spells(sql: Sql, member_ids: list[str]) -> None:
    """`official_spells` of these members made again from their rows in `members` and `member_cells`."""
    for ids in _chunks(member_ids):
        marks = ", ".join("?" * len(ids))
        sql.execute(f"DELETE FROM official_spells WHERE member_id IN ({marks})", ids)
        sql.execute(schema.official_spells_of(f"c.member_id IN ({marks})"), ids)


def _dated(sql: Sql, table: str, column: str, unit_id: str, day: str, value: str | None) -> None:
    """A value of a unit from `day` on (a later event for the same day replaces the earlier one)."""
    _write(sql,
        f"INSERT INTO {table} (unit_id, valid_from, {column}) VALUES (?, ?, ?)"
        f" ON CONFLICT (unit_id, valid_from) DO UPDATE SET {column} = excluded.{column}",
        (unit_id, day, value),
    )


def _move_home(sql: Sql, member_id: str, cell_id: str, day: dt.date) -> None:
    """The member's home cell is `cell_id` from `day`: the open spell ends there, a new one starts."""
    iso = day.isoformat()
    _write(sql, "UPDATE member_cells SET valid_to = ? WHERE member_id = ? AND valid_to IS NULL AND valid_from < ?",
                (iso, member_id, iso))
    _write(sql,
        "INSERT INTO member_cells (member_id, valid_from, cell_id) VALUES (?, ?, ?)"
        " ON CONFLICT (member_id, valid_from) DO UPDATE SET cell_id = excluded.cell_id, valid_to = NULL",
        (member_id, iso, cell_id),
    )


# -- meetings -----------------------------------------------------------------------------------------------

def _meetings(sql: Sql, envelope: Envelope, p: Payload) -> None:
    if isinstance(p, mt.MeetingScheduled):
        day = p.scheduled_for.astimezone(VIETNAM).date()
        _write(sql,
               "INSERT INTO meetings (meeting_id, cell_id, kind, topic, status, date, month, quarter, recorded_by)"
               " VALUES (?, ?, ?, ?, 'scheduled', ?, ?, ?, ?)",
               (str(p.meeting_id), str(p.cell_id), p.kind, p.topic, day.isoformat(), month_of(day), quarter_of(day),
                envelope.recorded_by))
        _known_date(str(p.meeting_id), day.isoformat())
        return
    if isinstance(p, mt.MeetingHeld):
        _held(sql, envelope, p)
        return
    mid = str(p.meeting_id)  # type: ignore[attr-defined]
    date = _meeting_date(sql, mid)
    if date is None:
        raise ProjectionError(f"{envelope.type} for meeting {mid}, which reporting does not know")
    if isinstance(p, mt.MeetingCancelled):
        _write(sql, "UPDATE meetings SET status = 'cancelled' WHERE meeting_id = ?", (mid,))
        refresh_meeting(sql, mid)  # (a cancelled meeting counts in no year: its cell's year counted again)
        return
    touched: set[str] = set()  # members whose yearly figures change
    if isinstance(p, mt.MemberAttended | mt.MemberAbsent):
        present = isinstance(p, mt.MemberAttended)
        outcome = _outcome(present, not present and p.excused)  # type: ignore[union-attr]
        _set_outcome(sql, envelope.type, mid, str(p.member_id), outcome, "" if present else p.reason)  # type: ignore[union-attr]
        touched.add(str(p.member_id))
    elif isinstance(p, mt.GuestAttended):
        _write(sql,
            "INSERT INTO meeting_guests (meeting_id, guest_id, full_name, assigned) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (meeting_id, guest_id) DO UPDATE SET assigned = excluded.assigned",
            (mid, str(p.guest_id), p.full_name, int(p.is_assigned_supervisor)))
    elif isinstance(p, mt.AgendaStepCovered):
        _write(sql, "INSERT INTO meeting_steps (meeting_id, step) VALUES (?, ?)"
                    " ON CONFLICT (meeting_id, step) DO NOTHING", (mid, p.step))
    elif isinstance(p, mt.MemberSpoke):
        # a guest or a temporary participant may speak too; only the cell's own members count here
        _write(sql, "UPDATE meeting_roster SET spoke = 1 WHERE meeting_id = ? AND member_id = ?",
                    (mid, str(p.member_id)))
    elif isinstance(p, mt.ResolutionPassed | mt.ResolutionRejected):
        _write(sql,
            "INSERT INTO resolutions (resolution_id, meeting_id, cell_id, date, kind, text, passed, reason,"
            " votes_for, votes_against, abstentions, voting_base) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(p.resolution_id), mid, str(p.cell_id), date, p.kind, p.text,
             int(isinstance(p, mt.ResolutionPassed)), p.reason, p.votes_for, p.votes_against, p.abstentions,
             p.voting_base))
    elif isinstance(p, mt.ResolutionReviewed):
        # the first review decides "in time"; a later one updates the outcome
        _write(sql,
            "UPDATE resolutions SET review_meeting_id = COALESCE(review_meeting_id, ?),"
            " reviewed_on = COALESCE(reviewed_on, ?), review_outcome = ? WHERE resolution_id = ?",
            (mid, date, p.outcome, str(p.resolution_id)))
    elif isinstance(p, mt.DuesCollected):
        _write(sql,
            "INSERT INTO dues (member_id, month, paid, meeting_id, cell_id) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (member_id, month) DO UPDATE SET paid = excluded.paid, meeting_id = excluded.meeting_id,"
            " cell_id = excluded.cell_id",
            (str(p.member_id), p.month, int(p.paid), mid, str(p.cell_id)))
        refresh_member_year(sql, str(p.member_id), p.month[:4])
    elif isinstance(p, mt.MeetingClosed):
        _write(sql, "UPDATE meetings SET status = 'closed', closed_at = ? WHERE meeting_id = ?",
                    (p.minutes_approved_at.isoformat(), mid))
    elif isinstance(p, mt.MeetingCorrected):
        touched |= _corrected(sql, envelope, mid, p)
    if not isinstance(p, mt.ResolutionReviewed | mt.DuesCollected | mt.MeetingClosed):  # these change no count
        refresh_meeting(sql, mid)
    for member_id in touched:
        refresh_member_year(sql, member_id, date[:4])


def _held(sql: Sql, envelope: Envelope, p: mt.MeetingHeld) -> None:
    mid = str(p.meeting_id)
    minutes = int((p.ended_at - p.started_at).total_seconds() // 60)
    values = (str(p.cell_id), p.kind, p.topic, p.date.isoformat(), month_of(p.date), quarter_of(p.date),
              p.started_at.isoformat(), p.ended_at.isoformat(), minutes, p.policy_version)
    scheduled = _meeting_date(sql, mid) is not None
    _known_date(mid, p.date.isoformat())
    if scheduled:  # held as scheduled: the schedule's row becomes the meeting's
        _write(sql,
            "UPDATE meetings SET cell_id = ?, kind = ?, topic = ?, date = ?, month = ?, quarter = ?, started_at = ?,"
            " ended_at = ?, minutes = ?, policy_version = ?, status = 'held' WHERE meeting_id = ?", (*values, mid))
    else:
        _write(sql,
            "INSERT INTO meetings (cell_id, kind, topic, date, month, quarter, started_at, ended_at, minutes,"
            " policy_version, meeting_id, status, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'held', ?)",
            (*values, mid, envelope.recorded_by))
    for entry in p.roster:
        official = entry.official if entry.official is not None else entry.status == "official"
        _write(sql,
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
    _write(sql, "UPDATE meeting_roster SET outcome = ?, reason = ? WHERE meeting_id = ? AND member_id = ?",
           (outcome, reason, meeting_id, member_id),
           expect_one=f"{what} for {member_id}, who is not on the roster of meeting {meeting_id}")


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
        row = _read(sql, "SELECT started_at, ended_at FROM meetings WHERE meeting_id = ?", (mid,)).fetchone()
        if row["started_at"] is None:
            return set()
        start, end = dt.datetime.fromisoformat(row["started_at"]), dt.datetime.fromisoformat(row["ended_at"])
        at = dt.time.fromisoformat(value)
        if p.path == "start_time":
            start = start.replace(hour=at.hour, minute=at.minute)
        else:
            end = end.replace(hour=at.hour, minute=at.minute)
        _write(sql, "UPDATE meetings SET started_at = ?, ended_at = ?, minutes = ? WHERE meeting_id = ?",
                    (start.isoformat(), end.isoformat(), int((end - start).total_seconds() // 60), mid))
    elif p.path == "topic":
        _write(sql, "UPDATE meetings SET topic = ? WHERE meeting_id = ?", (value, mid))
    return set()


# Each part of the attendance base, counted over a meeting's roster rows (design.md §2): the base is the
# summoned members minus those temporarily elsewhere minus exempted members who are absent; the voting base its
# official members; voters present, the official members of the base who are present.
_IN_BASE = "status <> 'temporarily_elsewhere' AND (status <> 'exempted' OR outcome = 'present')"
_ROSTER_COUNTS = (
    "SELECT meeting_id,"
    " SUM(CASE WHEN outcome = 'present' THEN 1 ELSE 0 END) AS present,"
    " SUM(CASE WHEN outcome = 'pending' THEN 1 ELSE 0 END) AS pending,"
    " SUM(CASE WHEN outcome = 'present' AND spoke = 1 THEN 1 ELSE 0 END) AS speakers,"
    f" SUM(CASE WHEN {_IN_BASE} THEN 1 ELSE 0 END) AS base,"
    f" SUM(CASE WHEN {_IN_BASE} AND official = 1 THEN 1 ELSE 0 END) AS voting_base,"
    f" SUM(CASE WHEN {_IN_BASE} AND official = 1 AND outcome = 'present' THEN 1 ELSE 0 END) AS voters_present"
    " FROM meeting_roster WHERE meeting_id IN ({marks}) GROUP BY meeting_id"
)
_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's limits on parameters


def _chunks(items: list[str], size: int = _CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _by_key(sql: Sql, statement: str, ids: list[str], params: tuple[object, ...] = ()) -> dict[str, list[Any]]:
    """Rows of `statement` (an IN ({marks}) over `ids`, then `params`), grouped by their first column, in order."""
    grouped: dict[str, list[Any]] = {}
    for row in sql.execute(statement.format(marks=", ".join("?" * len(ids))), (*ids, *params)).fetchall():
        grouped.setdefault(str(row[next(iter(row.keys()))] if hasattr(row, "keys") else row[0]), []).append(row)
    return grouped


def refresh_meeting(sql: Sql, meeting_id: str) -> None:
    """Recount a meeting's figures from its rows (design.md §2 counting rules), then its cell's year; in a
    batch, once at its end."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.meetings.add(meeting_id)
        return
    recount_meetings(sql, [meeting_id])
    recount_meeting_years(sql, [meeting_id])


def recount_meeting_years(sql: Sql, meeting_ids: list[str]) -> None:
    """Count again, from the meetings rows, the year of each of these meetings' cells (`meeting_years`): a
    statement to read the cell-years, then per year one to delete their rows and one to count them. A meeting
    only ever leaves a cell-year that counted it by being cancelled (a held meeting's cell and date are those
    of its MeetingHeld; the scheduled row it replaces counts nowhere), so its current cell-year is the one."""
    years: dict[str, set[str]] = {}
    for ids in _chunks(meeting_ids):
        for row in sql.execute("SELECT DISTINCT cell_id, SUBSTR(date, 1, 4) AS year FROM meetings"
                               f" WHERE meeting_id IN ({', '.join('?' * len(ids))})", ids).fetchall():
            years.setdefault(str(row["year"]), set()).add(str(row["cell_id"]))
    for year, cells in sorted(years.items()):
        for chunk in _chunks(sorted(cells)):
            marks = ", ".join("?" * len(chunk))
            sql.execute(f"DELETE FROM meeting_years WHERE year = ? AND cell_id IN ({marks})", (year, *chunk))
            sql.execute(schema.meeting_years_of(f"m.cell_id IN ({marks}) AND m.date >= ? AND m.date <= ?"),
                        (*chunk, f"{year}-01-01", f"{year}-12-31"))


def recount_meetings(sql: Sql, meeting_ids: list[str]) -> None:
    """Recount these meetings' figures from their rows, a few statements for all of them: a replay of a city's
    year is millions of events, and a live batch touches tens of meetings."""
    for ids in _chunks(meeting_ids):
        meetings = _by_key(sql, "SELECT meeting_id, kind, minutes, policy_version FROM meetings"
                                " WHERE meeting_id IN ({marks})", ids)
        counts = _by_key(sql, _ROSTER_COUNTS, ids)
        supervised = _by_key(sql, "SELECT meeting_id FROM meeting_guests WHERE meeting_id IN ({marks})"
                                  " AND assigned = 1", ids)
        votes = _by_key(sql, "SELECT meeting_id, passed FROM resolutions WHERE meeting_id IN ({marks})", ids)
        steps = _by_key(sql, "SELECT meeting_id, step FROM meeting_steps WHERE meeting_id IN ({marks})", ids)
        updates = []
        for meeting_id in ids:
            found = meetings.get(meeting_id)
            if not found or found[0]["policy_version"] is None:  # scheduled, not held yet: no figures
                continue
            m = found[0]
            c = counts.get(meeting_id, [None])[0]
            policy = policy_version(m["policy_version"])
            kind = m["kind"]
            duration_ok = None
            full_procedure = None
            if kind in REGULAR_KINDS:
                minimum = policy.combined_min_minutes if kind == "combined" else policy.regular_min_minutes
                duration_ok = int(m["minutes"] >= minimum)
                required = set(policy.required_agenda_steps)
                covered = {r["step"] for r in steps.get(meeting_id, ())} & required
                full_procedure = int(len(covered) == len(required))

            def count(name: str, c: Any = c) -> int:
                return 0 if c is None else int(c[name] or 0)

            voters, voting_base = count("voters_present"), count("voting_base")
            passed = [int(r["passed"]) for r in votes.get(meeting_id, ())]
            updates.append((
                count("present"), count("base"), voting_base, voters, count("pending"), count("speakers"),
                int(voters * 2 > voting_base > 0), duration_ok, full_procedure, int(meeting_id in supervised),
                passed.count(1), passed.count(0), meeting_id))
        if updates:
            sql.executemany(
                "UPDATE meetings SET present = ?, attendance_base = ?, voting_base = ?, voters_present = ?,"
                " pending = ?, speakers_present = ?, able_to_decide = ?, duration_ok = ?, full_procedure = ?,"
                " supervisor_present = ?, resolutions_passed = ?, resolutions_rejected = ? WHERE meeting_id = ?",
                updates)


def refresh_member_year(sql: Sql, member_id: str, year: str) -> None:
    """Recount a member's year (recount_member_years); in a batch, once at its end."""
    deferred = _deferred.get()
    if deferred is not None:
        deferred.member_years.add((member_id, year))
        return
    recount_member_years(sql, [(member_id, year)])


def recount_member_years(sql: Sql, member_years: list[tuple[str, str]]) -> None:
    """Recount members' years: meetings summoned to (exempted and temporarily-elsewhere left out, design.md §2),
    attended, excused and unexcused absences, the longest run of consecutive absences, dues unpaid; read and
    written set-wise per year."""
    years: dict[str, list[str]] = {}
    for member_id, year in member_years:
        years.setdefault(year, []).append(member_id)
    for year, members in sorted(years.items()):
        for ids in _chunks(members):
            # roster rows exist only for held meetings (a cancelled meeting was never held)
            rosters = _by_key(
                sql, "SELECT member_id, outcome, full_name, date, cell_id FROM meeting_roster"
                     " WHERE member_id IN ({marks}) AND date >= ? AND date <= ?"
                     " AND status IN ('official', 'probationary') ORDER BY member_id, date, meeting_id",
                ids, (f"{year}-01-01", f"{year}-12-31"))
            unpaid = _by_key(
                sql, "SELECT member_id, month, cell_id FROM dues WHERE member_id IN ({marks}) AND paid = 0"
                     " AND month >= ? AND month <= ? ORDER BY member_id, month",
                ids, (f"{year}-01", f"{year}-12"))
            gone, rows = [], []
            for member_id in ids:
                figures = _member_year(sql, member_id, year, rosters.get(member_id, []), unpaid.get(member_id, []))
                if figures is None:
                    gone.append((member_id, year))
                else:
                    rows.append(figures)
            if gone:
                sql.executemany("DELETE FROM member_years WHERE member_id = ? AND year = ?", gone)
            if rows:
                sql.insert_many(
                    "INSERT INTO member_years (member_id, year, full_name, cell_id, last_date, summoned, attended,"
                    " excused, unexcused, longest_absence_run, dues_unpaid, flagged, flag_reasons)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (member_id, year) DO UPDATE SET"
                    " full_name = excluded.full_name, cell_id = excluded.cell_id, last_date = excluded.last_date,"
                    " summoned = excluded.summoned, attended = excluded.attended, excused = excluded.excused,"
                    " unexcused = excluded.unexcused, longest_absence_run = excluded.longest_absence_run,"
                    " dues_unpaid = excluded.dues_unpaid, flagged = excluded.flagged,"
                    " flag_reasons = excluded.flag_reasons",
                    rows)


def _member_year(sql: Sql, member_id: str, year: str, rows: list[Any], unpaid_rows: list[Any],
                 ) -> tuple[object, ...] | None:
    """A member_years row from the member's roster rows of the year (by date) and unpaid dues (by month); None
    when there is neither."""
    if not rows and not unpaid_rows:
        return None
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
    return (member_id, year, name, cell_id, last_date, len(rows), attended, excused, unexcused, longest,
            len(unpaid_rows), int(bool(reasons)), ",".join(reasons))
