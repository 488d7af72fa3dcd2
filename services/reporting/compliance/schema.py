"""The reporting store's tables (SQLite embedded, PostgreSQL in production).

Every table is a pure function of the events applied, in source order: no wall-clock values, so a replay from
position 0 gives byte-for-byte the same rows (`TABLES` names each table's key, for the replay's digests).

Dates are ISO strings (YYYY-MM-DD), months YYYY-MM, quarters YYYY-Qn. Booleans are 0/1 integers.
"""

from __future__ import annotations

from shared.stores import Dialects, Statement

DDL: tuple[Statement, ...] = (
    # -- the organisation tree, dated (cây tổ chức) -------------------------------------------------
    "CREATE TABLE IF NOT EXISTS units ("
    " unit_id TEXT PRIMARY KEY, kind TEXT NOT NULL, code TEXT NOT NULL, block TEXT,"
    " created_on TEXT NOT NULL, ended_on TEXT, end_kind TEXT,"  # end_kind: merged | dissolved
    " merged_into TEXT)",
    # a unit's names, each from a date (the latest valid_from <= day is the name on that day)
    "CREATE TABLE IF NOT EXISTS unit_names ("
    " unit_id TEXT NOT NULL, valid_from TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (unit_id, valid_from))",
    # a unit's parents, each from a date (parent_id NULL: a root)
    "CREATE TABLE IF NOT EXISTS unit_parents ("
    " unit_id TEXT NOT NULL, valid_from TEXT NOT NULL, parent_id TEXT, PRIMARY KEY (unit_id, valid_from))",
    # -- the register (sổ đảng viên), as far as the figures need it ---------------------------------
    "CREATE TABLE IF NOT EXISTS members ("
    " member_id TEXT PRIMARY KEY, code TEXT NOT NULL, full_name TEXT NOT NULL, admitted_on TEXT NOT NULL,"
    " official_since TEXT, removed_on TEXT, removal_reason TEXT)",
    # home cell spells [valid_from, valid_to) (temporary transfers do not change the home cell)
    "CREATE TABLE IF NOT EXISTS member_cells ("
    " member_id TEXT NOT NULL, valid_from TEXT NOT NULL, cell_id TEXT NOT NULL, valid_to TEXT,"
    " PRIMARY KEY (member_id, valid_from))",
    "CREATE INDEX IF NOT EXISTS member_cells_cell ON member_cells (cell_id)",
    # each home cell spell of an official member, cut to the days the member was official and not removed: what
    # a cell's official members on a day are counted from (rows.official_counts), one table instead of a join
    # of the register with its spells. Kept by the projection, once per batch for the members it touched
    # (projection.recount_official_spells; the definition is OFFICIAL_SPELLS below)
    "CREATE TABLE IF NOT EXISTS official_spells ("
    " member_id TEXT NOT NULL, valid_from TEXT NOT NULL, cell_id TEXT NOT NULL, counted_from TEXT NOT NULL,"
    " counted_to TEXT, PRIMARY KEY (member_id, valid_from))",
    "CREATE INDEX IF NOT EXISTS official_spells_cell ON official_spells (cell_id)",
    # committee members assigned to attend a cell, [valid_from, valid_to)
    "CREATE TABLE IF NOT EXISTS supervisions ("
    " supervisor_id TEXT NOT NULL, cell_id TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT,"
    " PRIMARY KEY (supervisor_id, cell_id, valid_from))",
    "CREATE INDEX IF NOT EXISTS supervisions_cell ON supervisions (cell_id)",
    # -- meetings: one row each, with its figures kept up to date as its events arrive ---------------
    "CREATE TABLE IF NOT EXISTS meetings ("
    " meeting_id TEXT PRIMARY KEY, cell_id TEXT NOT NULL, kind TEXT NOT NULL, topic TEXT,"
    " status TEXT NOT NULL,"  # scheduled | held | closed | cancelled
    " date TEXT NOT NULL, month TEXT NOT NULL, quarter TEXT NOT NULL,"
    " started_at TEXT, ended_at TEXT, minutes INTEGER, policy_version TEXT,"
    " present INTEGER NOT NULL DEFAULT 0,"  # roster members recorded present
    " attendance_base INTEGER NOT NULL DEFAULT 0,"  # summoned - elsewhere - exempted absent
    " voting_base INTEGER NOT NULL DEFAULT 0,"  # official members of the attendance base
    " voters_present INTEGER NOT NULL DEFAULT 0,"  # official members of the base recorded present
    " pending INTEGER NOT NULL DEFAULT 0,"  # roster members whose attendance is not recorded yet
    " speakers_present INTEGER NOT NULL DEFAULT 0,"  # present roster members who spoke
    " able_to_decide INTEGER NOT NULL DEFAULT 0,"  # more than half of the voting base present
    " duration_ok INTEGER,"  # minutes >= the policy minimum for the kind (NULL: no minimum, thematic)
    " full_procedure INTEGER,"  # every required agenda step covered (NULL: thematic meeting)
    " supervisor_present INTEGER NOT NULL DEFAULT 0,"  # a committee member assigned to the cell attended
    " resolutions_passed INTEGER NOT NULL DEFAULT 0, resolutions_rejected INTEGER NOT NULL DEFAULT 0,"
    " recorded_by TEXT NOT NULL, closed_at TEXT)",
    "CREATE INDEX IF NOT EXISTS meetings_cell_date ON meetings (cell_id, date)",
    "CREATE INDEX IF NOT EXISTS meetings_month ON meetings (month)",
    # one row per member summoned to a held meeting; the meeting's date and cell are repeated here so that a
    # member's year is one index range scan (a join with meetings made the planner scan every meeting)
    "CREATE TABLE IF NOT EXISTS meeting_roster ("
    " meeting_id TEXT NOT NULL, member_id TEXT NOT NULL, full_name TEXT NOT NULL, status TEXT NOT NULL,"
    " date TEXT NOT NULL, cell_id TEXT NOT NULL,"
    " official INTEGER NOT NULL DEFAULT 0,"
    " outcome TEXT NOT NULL DEFAULT 'pending',"  # pending | present | absent_excused | absent_unexcused
    " reason TEXT NOT NULL DEFAULT '', spoke INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (meeting_id, member_id))",
    "CREATE INDEX IF NOT EXISTS meeting_roster_member ON meeting_roster (member_id, date)",
    "CREATE TABLE IF NOT EXISTS meeting_steps ("
    " meeting_id TEXT NOT NULL, step TEXT NOT NULL, PRIMARY KEY (meeting_id, step))",
    "CREATE TABLE IF NOT EXISTS meeting_guests ("
    " meeting_id TEXT NOT NULL, guest_id TEXT NOT NULL, full_name TEXT NOT NULL, assigned INTEGER NOT NULL,"
    " PRIMARY KEY (meeting_id, guest_id))",
    "CREATE TABLE IF NOT EXISTS resolutions ("
    " resolution_id TEXT PRIMARY KEY, meeting_id TEXT NOT NULL, cell_id TEXT NOT NULL, date TEXT NOT NULL,"
    " kind TEXT NOT NULL, text TEXT NOT NULL, passed INTEGER NOT NULL, reason TEXT NOT NULL,"
    " votes_for INTEGER NOT NULL, votes_against INTEGER NOT NULL, abstentions INTEGER NOT NULL,"
    " voting_base INTEGER NOT NULL,"
    " review_meeting_id TEXT, reviewed_on TEXT, review_outcome TEXT)",
    "CREATE INDEX IF NOT EXISTS resolutions_cell_date ON resolutions (cell_id, date)",
    "CREATE INDEX IF NOT EXISTS resolutions_meeting ON resolutions (meeting_id)",
    # the latest record of a member's dues for a month (đảng phí)
    "CREATE TABLE IF NOT EXISTS dues ("
    " member_id TEXT NOT NULL, month TEXT NOT NULL, paid INTEGER NOT NULL, meeting_id TEXT NOT NULL,"
    " cell_id TEXT NOT NULL, PRIMARY KEY (member_id, month))",
    "CREATE INDEX IF NOT EXISTS dues_cell_month ON dues (cell_id, month)",  # a unit's dues, not the city's
    # each cell's dues per month, counted: kept by the database from `dues` (KEPT_COUNTS below), so that a
    # roll-up adds up a row per cell and month instead of a row per member and month (4.5 M in a city-year)
    "CREATE TABLE IF NOT EXISTS dues_months ("
    " cell_id TEXT NOT NULL, month TEXT NOT NULL, paid INTEGER NOT NULL, recorded INTEGER NOT NULL,"
    " PRIMARY KEY (cell_id, month))",
    # each resolution's review deadline as far as the rows decide it, kept by the database (KEPT_COUNTS):
    # counted (passed at a held meeting), the default deadline (the end of the next month) and its cell's next
    # regular meeting after it, so that a roll-up counts reviews in one pass instead of a subquery each
    "CREATE TABLE IF NOT EXISTS resolution_reviews ("
    " resolution_id TEXT PRIMARY KEY, cell_id TEXT NOT NULL, date TEXT NOT NULL, counted INTEGER NOT NULL,"
    " reviewed_on TEXT, default_due TEXT NOT NULL, next_regular TEXT)",
    "CREATE INDEX IF NOT EXISTS resolution_reviews_cell ON resolution_reviews (cell_id, date)",
    # each cell's held meetings per year, counted: the sums a roll-up adds, the months with a meeting and with a
    # regular one and the quarters with a thematic one as bits (bit 0: January, the first quarter), and the
    # first and latest dates (a year's row stands for any report date on or after the latest; a committee
    # member assigned from the first to the latest was assigned at every one), the meetings an assigned committee
    # member attended (whether one was assigned on the day is the members source's: tally.py). Kept by the
    # projection from `meetings` alone, once per batch for the cell-years it touched
    # (projection.recount_meeting_years; the definition is MEETING_YEARS below), so that a year's roll-up reads
    # a row per cell, not its meetings
    "CREATE TABLE IF NOT EXISTS meeting_years ("
    " cell_id TEXT NOT NULL, year TEXT NOT NULL, meetings INTEGER NOT NULL, regular INTEGER NOT NULL,"
    " thematic INTEGER NOT NULL, present INTEGER NOT NULL, base INTEGER NOT NULL, speakers INTEGER NOT NULL,"
    " able_to_decide INTEGER NOT NULL, full_procedure INTEGER NOT NULL, duration_ok INTEGER NOT NULL,"
    " held_months INTEGER NOT NULL, regular_months INTEGER NOT NULL, thematic_quarters INTEGER NOT NULL,"
    " first_date TEXT NOT NULL, last_date TEXT NOT NULL, supervisor_present INTEGER NOT NULL,"
    " PRIMARY KEY (cell_id, year))",
    # -- per member and year: recomputed from meeting_roster and dues whenever one of them changes ----
    "CREATE TABLE IF NOT EXISTS member_years ("
    " member_id TEXT NOT NULL, year TEXT NOT NULL, full_name TEXT NOT NULL,"
    " cell_id TEXT NOT NULL, last_date TEXT NOT NULL,"  # the cell and date of the latest counted meeting
    " summoned INTEGER NOT NULL, attended INTEGER NOT NULL, excused INTEGER NOT NULL,"
    " unexcused INTEGER NOT NULL, longest_absence_run INTEGER NOT NULL, dues_unpaid INTEGER NOT NULL,"
    " flagged INTEGER NOT NULL, flag_reasons TEXT NOT NULL,"  # comma-separated rule ids
    " PRIMARY KEY (member_id, year))",
    "CREATE INDEX IF NOT EXISTS member_years_year ON member_years (year, flagged)",
    # -- the audit index: every event applied, with who recorded it, when and from which request ----
    "CREATE TABLE IF NOT EXISTS events ("
    " source TEXT NOT NULL, position BIGINT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,"
    " version INTEGER NOT NULL, stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL,"
    " occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, recorded_by TEXT NOT NULL,"
    " correlation_id TEXT, cell_id TEXT, meeting_id TEXT, member_id TEXT, payload TEXT NOT NULL,"
    " PRIMARY KEY (source, position))",
    "CREATE INDEX IF NOT EXISTS events_meeting ON events (meeting_id)",
    "CREATE INDEX IF NOT EXISTS events_member ON events (member_id)",
    "CREATE INDEX IF NOT EXISTS events_cell ON events (cell_id)",
)

# `dues_months` = SELECT cell_id, month, SUM(paid), COUNT(*) FROM dues GROUP BY cell_id, month, at all times:
# filled from `dues` when it is empty (a new store, a replay's loaded rows, or a store from before the table),
# then kept by triggers on every row written to `dues`, whichever statement writes it. A (cell, month) left
# with no row is deleted, so the table is exactly that GROUP BY (tests/unit/test_kept_counts.py).
_DUES_SUB = ("UPDATE dues_months SET paid = dues_months.paid - OLD.paid, recorded = dues_months.recorded - 1"
             " WHERE dues_months.cell_id = OLD.cell_id AND dues_months.month = OLD.month;"
             " DELETE FROM dues_months WHERE dues_months.cell_id = OLD.cell_id AND dues_months.month = OLD.month"
             " AND dues_months.recorded = 0;")
# (SQLite allows no alias for the table a trigger writes, PostgreSQL wants the existing row's columns named)
_DUES_ADD_LITE = ("INSERT INTO dues_months (cell_id, month, paid, recorded) VALUES (NEW.cell_id, NEW.month,"
                  " NEW.paid, 1) ON CONFLICT (cell_id, month) DO UPDATE SET paid = paid + excluded.paid,"
                  " recorded = recorded + 1;")
_DUES_ADD = _DUES_ADD_LITE.replace("dues_months (", "dues_months AS k (").replace(
    "paid = paid", "paid = k.paid").replace("recorded = recorded", "recorded = k.recorded")
_DUES_CHANGED = "OLD.paid <> NEW.paid OR OLD.cell_id <> NEW.cell_id OR OLD.month <> NEW.month"

# `resolution_reviews` = REVIEWS_OF below, for every resolution: filled when empty, then kept by triggers on
# `resolutions` (its own row) and on `meetings` (a meeting held, moved, re-kinded or cancelled changes its
# cell's next regular meeting, and whether its own resolutions count).
_REGULAR_HELD = "n.kind IN ('regular', 'combined') AND n.status IN ('held', 'closed')"
_NEXT_REGULAR = ("(SELECT MIN(n.date) FROM meetings n WHERE n.cell_id = {r}.cell_id AND n.date > {r}.date"
                 f" AND {_REGULAR_HELD})")
_COUNTED = ("CASE WHEN r.passed = 1 AND m.status IN ('held', 'closed') THEN 1 ELSE 0 END")
_END_OF_NEXT_MONTH = Dialects("date(r.date, 'start of month', '+2 months', '-1 day')",
                              "to_char(date_trunc('month', r.date::date) + interval '2 months' - interval '1 day',"
                              " 'YYYY-MM-DD')")


def _reviews_of(db: int, where: str) -> str:
    return ("INSERT INTO resolution_reviews (resolution_id, cell_id, date, counted, reviewed_on, default_due,"
            f" next_regular) SELECT r.resolution_id, r.cell_id, r.date, {_COUNTED}, r.reviewed_on,"
            f" {_END_OF_NEXT_MONTH[db]}, {_NEXT_REGULAR.format(r='r')}"
            f" FROM resolutions r LEFT JOIN meetings m ON m.meeting_id = r.meeting_id WHERE {where};")


def _cell_refreshed(cell: str) -> str:
    return (f"UPDATE resolution_reviews SET next_regular = {_NEXT_REGULAR.format(r='resolution_reviews')}"
            f" WHERE resolution_reviews.cell_id = {cell};")


def _meeting_recounted(meeting: str) -> str:
    return (f"UPDATE resolution_reviews SET counted = (SELECT {_COUNTED} FROM resolutions r LEFT JOIN meetings m"
            " ON m.meeting_id = r.meeting_id WHERE r.resolution_id = resolution_reviews.resolution_id)"
            f" WHERE resolution_reviews.resolution_id IN (SELECT x.resolution_id FROM resolutions x"
            f" WHERE x.meeting_id = {meeting});")


def _changed(columns: tuple[str, ...], db: int) -> str:
    op = "IS NOT" if db == 0 else "IS DISTINCT FROM"
    return " OR ".join(f"OLD.{c} {op} NEW.{c}" for c in columns)


_RESOLUTION_COLUMNS = ("meeting_id", "cell_id", "date", "passed", "reviewed_on")
_MEETING_COLUMNS = ("cell_id", "date", "kind", "status")
_OWN_ROW_GONE = "DELETE FROM resolution_reviews WHERE resolution_reviews.resolution_id = OLD.resolution_id;"
_REVIEWS: tuple[Statement, ...] = (
    Dialects(_reviews_of(0, "NOT EXISTS (SELECT 1 FROM resolution_reviews)").rstrip(";"),
             _reviews_of(1, "NOT EXISTS (SELECT 1 FROM resolution_reviews)").rstrip(";")),
    Dialects(
        "CREATE TRIGGER IF NOT EXISTS resolution_reviews_insert AFTER INSERT ON resolutions BEGIN"
        f" {_reviews_of(0, 'r.resolution_id = NEW.resolution_id')} END",
        "CREATE OR REPLACE FUNCTION resolution_reviews_of_resolution() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF TG_OP IN ('UPDATE', 'DELETE') THEN {_OWN_ROW_GONE} END IF;"
        f" IF TG_OP IN ('INSERT', 'UPDATE') THEN {_reviews_of(1, 'r.resolution_id = NEW.resolution_id')} END IF;"
        " RETURN NULL; END $$"),
    Dialects(
        f"CREATE TRIGGER IF NOT EXISTS resolution_reviews_update AFTER UPDATE ON resolutions"
        f" WHEN {_changed(_RESOLUTION_COLUMNS, 0)} BEGIN {_OWN_ROW_GONE}"
        f" {_reviews_of(0, 'r.resolution_id = NEW.resolution_id')} END",
        "CREATE OR REPLACE TRIGGER resolution_reviews_insert_delete AFTER INSERT OR DELETE ON resolutions"
        " FOR EACH ROW EXECUTE FUNCTION resolution_reviews_of_resolution()"),
    Dialects(
        f"CREATE TRIGGER IF NOT EXISTS resolution_reviews_delete AFTER DELETE ON resolutions BEGIN {_OWN_ROW_GONE} END",
        "CREATE OR REPLACE TRIGGER resolution_reviews_update AFTER UPDATE ON resolutions FOR EACH ROW"
        f" WHEN ({_changed(_RESOLUTION_COLUMNS, 1)}) EXECUTE FUNCTION resolution_reviews_of_resolution()"),
    Dialects(
        "CREATE TRIGGER IF NOT EXISTS resolution_reviews_meeting_insert AFTER INSERT ON meetings BEGIN"
        f" {_cell_refreshed('NEW.cell_id')} {_meeting_recounted('NEW.meeting_id')} END",
        "CREATE OR REPLACE FUNCTION resolution_reviews_of_meeting() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF TG_OP IN ('INSERT', 'UPDATE') THEN {_cell_refreshed('NEW.cell_id')}"
        f" {_meeting_recounted('NEW.meeting_id')} END IF;"
        " IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.cell_id <> NEW.cell_id) THEN"
        f" {_cell_refreshed('OLD.cell_id')} {_meeting_recounted('OLD.meeting_id')} END IF; RETURN NULL; END $$"),
    Dialects(
        f"CREATE TRIGGER IF NOT EXISTS resolution_reviews_meeting_update AFTER UPDATE ON meetings"
        f" WHEN {_changed(_MEETING_COLUMNS, 0)} BEGIN {_cell_refreshed('NEW.cell_id')}"
        f" {_cell_refreshed('OLD.cell_id')} {_meeting_recounted('NEW.meeting_id')} END",
        "CREATE OR REPLACE TRIGGER resolution_reviews_meeting_insert_delete AFTER INSERT OR DELETE ON meetings"
        " FOR EACH ROW EXECUTE FUNCTION resolution_reviews_of_meeting()"),
    Dialects(
        "CREATE TRIGGER IF NOT EXISTS resolution_reviews_meeting_delete AFTER DELETE ON meetings BEGIN"
        f" {_cell_refreshed('OLD.cell_id')} {_meeting_recounted('OLD.meeting_id')} END",
        "CREATE OR REPLACE TRIGGER resolution_reviews_meeting_update AFTER UPDATE ON meetings FOR EACH ROW"
        f" WHEN ({_changed(_MEETING_COLUMNS, 1)}) EXECUTE FUNCTION resolution_reviews_of_meeting()"),
)
KEPT_COUNTS: tuple[Statement, ...] = (
    "INSERT INTO dues_months (cell_id, month, paid, recorded) SELECT cell_id, month, SUM(paid), COUNT(*)"
    " FROM dues WHERE NOT EXISTS (SELECT 1 FROM dues_months) GROUP BY cell_id, month",
    Dialects(
        f"CREATE TRIGGER IF NOT EXISTS dues_months_insert AFTER INSERT ON dues BEGIN {_DUES_ADD_LITE} END",
        "CREATE OR REPLACE FUNCTION dues_months_keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF TG_OP IN ('UPDATE', 'DELETE') THEN {_DUES_SUB} END IF;"
        f" IF TG_OP IN ('INSERT', 'UPDATE') THEN {_DUES_ADD} END IF; RETURN NULL; END $$"),
    Dialects(
        f"CREATE TRIGGER IF NOT EXISTS dues_months_update AFTER UPDATE OF paid, cell_id, month ON dues"
        f" WHEN {_DUES_CHANGED} BEGIN {_DUES_SUB} {_DUES_ADD_LITE} END",
        "CREATE OR REPLACE TRIGGER dues_months_insert_delete AFTER INSERT OR DELETE ON dues"
        " FOR EACH ROW EXECUTE FUNCTION dues_months_keep()"),
    Dialects(
        f"CREATE TRIGGER IF NOT EXISTS dues_months_delete AFTER DELETE ON dues BEGIN {_DUES_SUB} END",
        "CREATE OR REPLACE TRIGGER dues_months_update AFTER UPDATE OF paid, cell_id, month ON dues"
        f" FOR EACH ROW WHEN ({_DUES_CHANGED}) EXECUTE FUNCTION dues_months_keep()"),
)
KEPT_COUNTS += _REVIEWS
DDL += KEPT_COUNTS

# `meeting_years` per cell and year, from the held meetings matching a condition on `m`. A trigger per meetings
# row kept it once (BENCHMARKS.md, fix 20) and made a burst's ingest 10x slower: the projection writes a
# meeting's row several times per batch (held, attendance, recounted), so it now counts each cell-year it
# touched once, at the end of the batch. Bits are summed DISTINCT, which is their OR on both databases.
REGULAR_KINDS = ("regular", "combined")  # a combined session is a regular and a thematic meeting in one
THEMATIC_KINDS = ("thematic", "combined")
REGULAR_KINDS_SQL, THEMATIC_KINDS_SQL = (", ".join(f"'{kind}'" for kind in kinds) for kinds in (REGULAR_KINDS,
                                                                                                THEMATIC_KINDS))
_REGULAR = f"m.kind IN ({REGULAR_KINDS_SQL})"
_MONTH_BIT = "(1 << (CAST(SUBSTR(m.month, 6, 2) AS INTEGER) - 1))"
_QUARTER_BIT = "(1 << (CAST(SUBSTR(m.quarter, 7, 1) AS INTEGER) - 1))"
MEETING_SUMS = (
    "COUNT(*) AS meetings,"
    f" SUM(CASE WHEN {_REGULAR} THEN 1 ELSE 0 END) AS regular,"
    f" SUM(CASE WHEN m.kind IN ({THEMATIC_KINDS_SQL}) THEN 1 ELSE 0 END) AS thematic,"
    " SUM(m.present) AS present, SUM(m.attendance_base) AS base, SUM(m.speakers_present) AS speakers,"
    " SUM(m.able_to_decide) AS able_to_decide,"
    f" SUM(CASE WHEN {_REGULAR} AND m.full_procedure <> 0 THEN 1 ELSE 0 END) AS full_procedure,"
    f" SUM(CASE WHEN {_REGULAR} AND m.duration_ok <> 0 THEN 1 ELSE 0 END) AS duration_ok")


def meeting_years_counted(where: str) -> str:
    """The held meetings matching `where` (on `m`) counted per cell and year: the rows of `meeting_years`."""
    return (f"SELECT m.cell_id, SUBSTR(m.date, 1, 4) AS year, {MEETING_SUMS},"
            f" SUM(DISTINCT {_MONTH_BIT}) AS held_months,"
            f" SUM(DISTINCT CASE WHEN {_REGULAR} THEN {_MONTH_BIT} ELSE 0 END) AS regular_months,"
            f" SUM(DISTINCT CASE WHEN m.kind IN ({THEMATIC_KINDS_SQL}) THEN {_QUARTER_BIT} ELSE 0 END)"
            " AS thematic_quarters, MIN(m.date) AS first_date, MAX(m.date) AS last_date,"
            " SUM(m.supervisor_present) AS supervisor_present"
            f" FROM meetings m WHERE m.status IN ('held', 'closed') AND {where}"
            " GROUP BY m.cell_id, SUBSTR(m.date, 1, 4)")


def meeting_years_of(where: str) -> str:
    """The statement that counts the held meetings matching `where` (on `m`) into `meeting_years`."""
    return ("INSERT INTO meeting_years (cell_id, year, meetings, regular, thematic, present, base, speakers,"
            " able_to_decide, full_procedure, duration_ok, held_months, regular_months, thematic_quarters,"
            f" first_date, last_date, supervisor_present) {meeting_years_counted(where)}")


def official_spells_of(where: str) -> str:
    """The statement that writes the home cell spells (`c`) of official members (`m`) matching `where` into
    `official_spells`: from the later of the spell's start and the member's confirmation, to the earlier of
    the spell's end and the member's removal (NULL: open)."""
    return ("INSERT INTO official_spells (member_id, valid_from, cell_id, counted_from, counted_to)"
            " SELECT c.member_id, c.valid_from, c.cell_id,"
            " CASE WHEN m.official_since > c.valid_from THEN m.official_since ELSE c.valid_from END,"
            " CASE WHEN c.valid_to IS NULL THEN m.removed_on"
            " WHEN m.removed_on IS NULL OR m.removed_on > c.valid_to THEN c.valid_to ELSE m.removed_on END"
            " FROM member_cells c JOIN members m ON m.member_id = c.member_id"
            f" WHERE m.official_since IS NOT NULL AND {where}")


OFFICIAL_SPELLS = official_spells_of("NOT EXISTS (SELECT 1 FROM official_spells)")


# filled from the rows when empty: a store made before the table existed, when the service starts (a replay
# keeps it per batch as it loads, like the live store, so the fill it runs after the load finds nothing to do)
MEETING_YEARS = meeting_years_of("NOT EXISTS (SELECT 1 FROM meeting_years)")
DDL += (MEETING_YEARS, OFFICIAL_SPELLS)

# The indexes only the queries use: no projection step reads through them (its reads go by primary key, by a
# roster's member, a meeting's resolutions). A replay builds them after its bulk load, once each from sorted
# rows, instead of updating them at every row (replay.rebuild); the live store has them from the start.
_QUERY_INDEX_NAMES = ("member_cells_cell", "official_spells_cell", "supervisions_cell", "meetings_cell_date",
                      "meetings_month", "resolutions_cell_date", "dues_cell_month", "member_years_year",
                      "events_meeting", "events_member", "events_cell")
QUERY_INDEXES: tuple[str, ...] = tuple(s for s in DDL if isinstance(s, str)
                                       and s.startswith("CREATE INDEX IF NOT EXISTS ")
                                       and s.split()[5] in _QUERY_INDEX_NAMES)
assert len(QUERY_INDEXES) == len(_QUERY_INDEX_NAMES), "a query index named here is not in DDL"
# what a replay runs once its events are in: the query indexes, then the kept counts filled from the loaded rows
# and their triggers made (kept row by row from then on, not while loading)
AFTER_LOAD: tuple[Statement, ...] = (*QUERY_INDEXES, *KEPT_COUNTS, MEETING_YEARS, OFFICIAL_SPELLS)

# table -> the columns that order its rows (its primary key), for digests that do not depend on storage order
TABLES: dict[str, tuple[str, ...]] = {
    "units": ("unit_id",),
    "unit_names": ("unit_id", "valid_from"),
    "unit_parents": ("unit_id", "valid_from"),
    "members": ("member_id",),
    "member_cells": ("member_id", "valid_from"),
    "official_spells": ("member_id", "valid_from"),
    "supervisions": ("supervisor_id", "cell_id", "valid_from"),
    "meetings": ("meeting_id",),
    "meeting_roster": ("meeting_id", "member_id"),
    "meeting_steps": ("meeting_id", "step"),
    "meeting_guests": ("meeting_id", "guest_id"),
    "resolutions": ("resolution_id",),
    "dues": ("member_id", "month"),
    "dues_months": ("cell_id", "month"),
    "resolution_reviews": ("resolution_id",),
    "meeting_years": ("cell_id", "year"),
    "member_years": ("member_id", "year"),
    "events": ("source", "position"),
}
