"""The counts the reporting store's database keeps (schema.KEPT_COUNTS): `dues_months` is, after any writes to
`dues`, exactly the GROUP BY it stands for, on both databases, and a store that has dues but not yet the table
(one made before it) gets it filled when the schema is applied."""

from __future__ import annotations

import datetime as dt
import random

from services.reporting.compliance import schema, tally
from services.reporting.compliance.rows import review_status, review_statuses
from shared.stores import TrackedStore

GROUPED = ("SELECT cell_id, month, SUM(paid) AS paid, COUNT(*) AS recorded FROM dues"
           " GROUP BY cell_id, month ORDER BY cell_id, month")
KEPT = "SELECT cell_id, month, paid, recorded FROM dues_months ORDER BY cell_id, month"
UPSERT = ("INSERT INTO dues (member_id, month, paid, meeting_id, cell_id) VALUES (?, ?, ?, ?, ?)"
          " ON CONFLICT (member_id, month) DO UPDATE SET paid = excluded.paid, meeting_id = excluded.meeting_id,"
          " cell_id = excluded.cell_id")  # the projection's statement (projection.py, DuesCollected)


def rows(store: TrackedStore, statement: str) -> list[tuple]:
    with store.read() as sql:
        return [(r["cell_id"], r["month"], int(r["paid"]), int(r["recorded"]))
                for r in sql.execute(statement).fetchall()]


def test_dues_months_is_the_grouped_dues_after_any_writes(store_settings):
    """Inserts, upserts that change a payment, a cell or nothing, one row at a time and as multi-row VALUES,
    updates and deletes: the kept counts equal the GROUP BY after each round, and a (cell, month) left
    without dues has no row."""
    store = TrackedStore(store_settings, "kept")
    store.create_tables(schema.DDL)
    rng = random.Random(3)
    members, months, cells = [f"m{i}" for i in range(40)], ["2025-01", "2025-02", "2025-03"], ["c1", "c2", "c3"]
    try:
        for round_ in range(6):
            with store.write() as sql:
                batch = [(rng.choice(members), rng.choice(months), rng.randint(0, 1), f"mt{round_}",
                          rng.choice(cells)) for _ in range(60)]
                sql.insert_many(UPSERT, batch)  # multi-row VALUES on PostgreSQL where the keys are unique
                for row in batch[:10]:
                    sql.execute(UPSERT, row)  # the same rows again: nothing changes
                sql.execute("UPDATE dues SET paid = 1 - paid WHERE member_id = ?", (rng.choice(members),))
                sql.execute("UPDATE dues SET cell_id = ? WHERE month = ? AND member_id < ?",
                            (rng.choice(cells), rng.choice(months), "m2"))
                sql.execute("UPDATE dues SET month = ? WHERE member_id = ? AND month = '2025-01'",
                            (f"2026-{round_ + 1:02d}", rng.choice(members)))  # a month of its own: no clash
                sql.execute("DELETE FROM dues WHERE member_id = ?", (rng.choice(members),))
            grouped, kept = rows(store, GROUPED), rows(store, KEPT)
            assert kept == grouped and grouped, f"round {round_}"
        with store.write() as sql:
            sql.execute("DELETE FROM dues WHERE cell_id = 'c1'")
        assert not [r for r in rows(store, KEPT) if r[0] == "c1"] and rows(store, KEPT) == rows(store, GROUPED)
    finally:
        store.close()


def test_a_store_made_before_the_kept_counts_gets_them_filled(store_settings):
    """A store with dues and no `dues_months` (made before the table): applying the schema fills it from the
    dues, and from then on the triggers keep it; applying the schema again changes nothing."""
    store = TrackedStore(store_settings, "older")
    store.create_tables([s for s in schema.DDL if s not in schema.KEPT_COUNTS and "dues_months (" not in str(s)])
    try:
        with store.write() as sql:
            sql.insert_many(UPSERT, [(f"m{i}", "2025-01", i % 2, "mt", f"c{i % 3}") for i in range(30)])
        store.create_tables(schema.DDL)  # the service starting on the new version
        assert rows(store, KEPT) == rows(store, GROUPED) and len(rows(store, KEPT)) == 3
        with store.write() as sql:
            sql.execute(UPSERT, ("m0", "2025-01", 1, "mt2", "c1"))
        store.create_tables(schema.DDL)
        assert rows(store, KEPT) == rows(store, GROUPED)
    finally:
        store.close()


REVIEWS = ("SELECT resolution_id, cell_id, date, counted, reviewed_on, default_due, next_regular"
           " FROM resolution_reviews ORDER BY resolution_id")
MEETING = ("INSERT INTO meetings (meeting_id, cell_id, kind, status, date, month, quarter, recorded_by)"
           " VALUES (?, ?, ?, ?, ?, ?, '2025-Q1', 'test')")
RESOLUTION = ("INSERT INTO resolutions (resolution_id, meeting_id, cell_id, date, kind, text, passed, reason,"
              " votes_for, votes_against, abstentions, voting_base, reviewed_on) VALUES (?, ?, ?, ?, 'k', 't', ?,"
              " '', 1, 0, 0, 1, ?)")


def reviews(store: TrackedStore) -> list[tuple]:
    with store.read() as sql:
        return [tuple(r[k] for k in ("resolution_id", "cell_id", "date", "counted", "reviewed_on", "default_due",
                                     "next_regular")) for r in sql.execute(REVIEWS).fetchall()]


def refilled(store: TrackedStore) -> list[tuple]:
    """What the fill statement makes from the rows as they are now (the definition the triggers must keep)."""
    fill = next(s for s in schema.KEPT_COUNTS if "INTO resolution_reviews" in str(s) and "TRIGGER" not in str(s))
    with store.write() as sql:
        sql.execute("DELETE FROM resolution_reviews")
        sql.execute(fill)
    return reviews(store)


def test_resolution_reviews_follow_every_change_to_resolutions_and_meetings(store_settings):
    """Meetings held, closed, cancelled, moved to another day or cell, re-kinded or deleted; resolutions passed,
    rejected, reviewed, re-dated or deleted: after each round the kept deadlines are what the fill computes
    from the rows, and the default deadline is the end of the month after the resolution's."""
    store = TrackedStore(store_settings, "reviews")
    store.create_tables(schema.DDL)
    rng = random.Random(5)
    cells, kinds, statuses = ["c1", "c2"], ["regular", "thematic", "combined"], ["held", "closed", "cancelled"]
    day = lambda: f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"  # noqa: E731
    meetings, resolutions = 0, 0
    try:
        for round_ in range(8):
            with store.write() as sql:
                for _ in range(6):
                    meetings += 1
                    d = day()
                    sql.execute(MEETING, (f"m{meetings}", rng.choice(cells), rng.choice(kinds), rng.choice(statuses),
                                          d, d[:7]))
                for _ in range(5):
                    resolutions += 1
                    m = f"m{rng.randint(1, meetings)}"
                    sql.execute(RESOLUTION, (f"r{resolutions}", m, rng.choice(cells), day(), rng.randint(0, 1),
                                             rng.choice([None, day()])))
                pick = lambda n, p: f"{p}{rng.randint(1, n)}"  # noqa: E731
                sql.execute("UPDATE meetings SET status = ? WHERE meeting_id = ?", (rng.choice(statuses),
                                                                                    pick(meetings, "m")))
                sql.execute("UPDATE meetings SET kind = ? WHERE meeting_id = ?", (rng.choice(kinds),
                                                                                  pick(meetings, "m")))
                sql.execute("UPDATE meetings SET date = ? WHERE meeting_id = ?", (day(), pick(meetings, "m")))
                sql.execute("UPDATE meetings SET cell_id = ? WHERE meeting_id = ?", (rng.choice(cells),
                                                                                     pick(meetings, "m")))
                sql.execute("UPDATE meetings SET present = present + 1")  # no column the deadlines read
                sql.execute("UPDATE resolutions SET reviewed_on = ? WHERE resolution_id = ?", (day(),
                                                                                              pick(resolutions, "r")))
                sql.execute("UPDATE resolutions SET date = ?, passed = 1 - passed WHERE resolution_id = ?",
                            (day(), pick(resolutions, "r")))
                if round_ % 3 == 2:
                    sql.execute("DELETE FROM meetings WHERE meeting_id = ?", (pick(meetings, "m"),))
                    sql.execute("DELETE FROM resolutions WHERE resolution_id = ?", (pick(resolutions, "r"),))
            kept = reviews(store)
            assert kept == refilled(store) and len(kept) >= 5 * (round_ + 1) - 3, f"round {round_}"
        assert {r[3] for r in kept} == {0, 1} and any(r[6] for r in kept) and any(r[6] is None for r in kept)
        with store.write() as sql:  # reviewed on its deadline day (the next regular meeting): in time
            sql.execute(MEETING, ("me1", "c3", "regular", "held", "2025-05-05", "2025-05"))
            sql.execute(MEETING, ("me2", "c3", "regular", "closed", "2025-06-09", "2025-06"))
            sql.execute(RESOLUTION, ("rx", "me1", "c3", "2025-05-05", 1, "2025-06-09"))
        with store.read() as sql:
            due = {r["resolution_id"]: r["default_due"]
                   for r in sql.execute("SELECT resolution_id, default_due FROM resolution_reviews").fetchall()}
            dates = {r["resolution_id"]: r["date"]
                     for r in sql.execute("SELECT resolution_id, date FROM resolutions").fetchall()}
        for rid, passed_on in dates.items():  # the end of the next month, as rows.review_status has it
            assert due[rid] == review_status(passed_on, None, None, dt.date(2000, 1, 1))[0]
        # what a roll-up counts from them equals the row-by-row rule (rows.review_statuses), on any report date
        months = [f"2025-{i:02d}" for i in range(1, 13)]
        for today in (dt.date(2025, 3, 15), dt.date(2025, 8, 1), dt.date(2025, 12, 31), dt.date(2026, 6, 1)):
            with store.read() as sql:
                expected: dict[str, list[int]] = {}
                for cell, _, status in review_statuses(sql, "2025-01-01", "2025-12-31", today):
                    counts = expected.setdefault(cell, [0, 0, 0])
                    counts[0] += 1
                    counts[1] += status != "not_yet_due"
                    counts[2] += status == "in_time"
                counted = tally._counts(sql, False, None, None, None, "2025-01-01", "2025-12-31", today, months,
                                        ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"])[3]
                got = {r["cell_id"]: [int(r["resolutions"]), int(r["reviews_due"]), int(r["reviewed_in_time"])]
                       for r in counted}
            assert got == expected and sum(c[2] for c in got.values()) > 0, today
            assert today < dt.date(2025, 6, 9) or got["c3"] == [1, 1, 1]
    finally:
        store.close()


def kept_years(store: TrackedStore) -> list[tuple]:
    with store.read() as sql:
        kept = sql.execute("SELECT * FROM meeting_years").fetchall()
        counted = sql.execute(schema.meeting_years_counted("1 = 1")).fetchall()
    columns = [k for k in counted[0].keys()] if counted else []  # noqa: SIM118 (a PostgreSQL row's keys)
    return sorted(tuple(str(r[c]) for c in columns) for r in kept), \
        sorted(tuple(str(r[c]) for c in columns) for r in counted)


def applied_in_batches(store: TrackedStore, source: str, events: list, sizes: list[int], rng: random.Random):
    """Apply `events` through the projection, one per transaction (`project`) or a batch of a size drawn
    from `sizes` per transaction (`project_many`); yields how many are applied after each transaction."""
    from services.reporting.compliance import projection

    i = 0
    while i < len(events):
        batch = events[i:i + rng.choice(sizes)]
        with store.tracked(source, batch[-1][0].position) as sql:
            if len(batch) == 1:
                projection.project(sql, *batch[0])
            else:
                projection.project_many(sql, batch)
        i += len(batch)
        yield i


def meeting_stream(seed: int) -> list[dict]:
    """Meetings of three cells over two years: scheduled then held (on another day or in another cell), held
    at once, cancelled when scheduled or after being held, attendance, speakers, agenda steps, corrections of
    the times and of attendance, closing: every event that changes a counted column of `meetings`."""
    import uuid

    from shared.clock import VIETNAM
    from shared.contracts import meetings as mt
    from tests.factories import Source
    from tests.reporting_world import FULL

    rng = random.Random(seed)
    src = Source("meetings")
    cells = [uuid.uuid4() for _ in range(3)]
    for _ in range(40):
        mid, cell = uuid.uuid4(), rng.choice(cells)
        day = dt.date(rng.choice((2024, 2025)), rng.randint(1, 12), rng.randint(1, 28))
        kind = rng.choice(("regular", "thematic", "combined"))
        if rng.random() < 0.4:
            src.emit(mt.MeetingScheduled(meeting_id=mid, cell_id=cell, kind=kind, topic="t",
                                         scheduled_for=dt.datetime.combine(day, dt.time(8), tzinfo=VIETNAM)))
            if rng.random() < 0.3:
                src.emit(mt.MeetingCancelled(meeting_id=mid, cell_id=cell, reason="bão"))
                continue
            if rng.random() < 0.5:  # held on another day, of another year perhaps, or by another cell
                day, cell = dt.date(rng.choice((2024, 2025)), rng.randint(1, 12), 15), rng.choice(cells)
        start = dt.datetime.combine(day, dt.time(19), tzinfo=VIETNAM)
        members = [uuid.uuid4() for _ in range(rng.randint(1, 5))]
        src.emit(mt.MeetingHeld(
            meeting_id=mid, cell_id=cell, kind=kind, topic=None if kind == "regular" else "t", date=day,
            started_at=start, ended_at=start + dt.timedelta(minutes=rng.choice((60, 90, 150))),
            policy_version="2021.1",
            roster=[mt.RosterEntry(member_id=m, full_name="X", status=rng.choice(("official", "probationary")))
                    for m in members]))
        for m in members:
            if rng.random() < 0.7:
                src.emit(mt.MemberAttended(meeting_id=mid, cell_id=cell, member_id=m, status="official"))
                if rng.random() < 0.5:
                    src.emit(mt.MemberSpoke(meeting_id=mid, cell_id=cell, member_id=m, gist="ý kiến"))
            else:
                src.emit(mt.MemberAbsent(meeting_id=mid, cell_id=cell, member_id=m, status="official",
                                         excused=rng.random() < 0.5, reason="ốm"))
        for step in FULL[:rng.choice((len(FULL), 3))]:
            src.emit(mt.AgendaStepCovered(meeting_id=mid, cell_id=cell, step=step))
        if rng.random() < 0.3:
            src.emit(mt.MeetingCorrected(meeting_id=mid, cell_id=cell, path="end_time", new_value="22:30",
                                         reason="ghi nhầm"))
        if rng.random() < 0.3:
            src.emit(mt.MeetingCorrected(meeting_id=mid, cell_id=cell, path=f"attendance.{members[0]}",
                                         new_value={"present": rng.random() < 0.5, "excused": False},
                                         reason="ghi nhầm"))
        if rng.random() < 0.5:
            src.emit(mt.MeetingClosed(meeting_id=mid, cell_id=cell, minutes_approved_at=start))
        elif rng.random() < 0.2:
            src.emit(mt.MeetingCancelled(meeting_id=mid, cell_id=cell, reason="hủy"))
    return src.log


def test_meeting_years_are_counted_again_for_every_cell_year_a_batch_touched(store_settings):
    """The projection keeps `meeting_years` per batch (projection.recount_meeting_years): applied one event
    per transaction or in batches of any size, after every transaction it is exactly the GROUP BY over
    `meetings` it stands for, and it holds held meetings, months and quarters of each kind."""
    from shared.contracts import parse_event

    events = [parse_event(data) for data in meeting_stream(11)]
    rng = random.Random(5)
    for name, sizes in (("single", [1]), ("batched", [1, 2, 7, 40, 200])):
        store = TrackedStore(store_settings, f"years_{name}")
        store.create_tables(schema.DDL)
        try:
            for i in applied_in_batches(store, "meetings", events, sizes, rng):
                kept, counted = kept_years(store)
                assert kept == counted, f"{name}: after event {i}"
            with store.read() as sql:
                totals = sql.execute("SELECT SUM(meetings) AS n, MAX(held_months) AS h, MAX(regular_months) AS r,"
                                     " MAX(thematic_quarters) AS t, COUNT(DISTINCT year) AS y FROM meeting_years"
                                     ).fetchone()
                held = sql.scalar("SELECT COUNT(*) FROM meetings WHERE status IN ('held', 'closed')")
                cancelled = sql.scalar("SELECT COUNT(*) FROM meetings WHERE status = 'cancelled'"
                                       " AND policy_version IS NOT NULL")  # held, then cancelled
            assert int(totals["n"]) == held > 20 and cancelled > 0 and int(totals["y"]) == 2
            assert int(totals["h"]) > 2 ** 10 and int(totals["r"]) > 2 ** 9 and int(totals["t"]) >= 8
        finally:
            store.close()


# the definition official_counts had before `official_spells`: the register joined with its spells
JOINED_OFFICIALS = (
    "SELECT c.cell_id, COUNT(*) AS n FROM member_cells c JOIN members m ON m.member_id = c.member_id"
    " WHERE c.valid_from <= ? AND (c.valid_to IS NULL OR c.valid_to > ?) AND m.official_since <= ?"
    " AND (m.removed_on IS NULL OR m.removed_on > ?) GROUP BY c.cell_id")


def spells(sql) -> list[tuple]:
    return [(r["member_id"], r["valid_from"], r["cell_id"], r["counted_from"], r["counted_to"]) for r in sql.execute(
        "SELECT * FROM official_spells ORDER BY member_id, valid_from").fetchall()]


def register_stream(seed: int) -> list[dict]:
    """Members admitted (probationary or official), confirmed, transferred (for good and for a while, on the
    day they were admitted too), removed, in any order of dates, between four cells."""
    import uuid

    from shared.contracts import members as mb
    from tests.factories import Source

    rng = random.Random(seed)
    src = Source("members")
    cells = [uuid.uuid4() for _ in range(4)]

    def day() -> dt.date:
        return dt.date(rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28))

    members = []
    for _ in range(60):
        mid, admitted, official = uuid.uuid4(), day(), rng.random() < 0.5
        src.emit(mb.MemberAdmitted(member_id=mid, code=mid.hex[:8], full_name="Nguyễn Văn A", cell_id=rng.choice(cells),
                                   admitted_on=admitted, status="official" if official else "probationary",
                                   official_since=admitted if official and rng.random() < 0.5 else None))
        members.append(mid)
        for _ in range(rng.randint(0, 4)):
            who = rng.choice(members)
            what = rng.random()
            if what < 0.3:
                src.emit(mb.MemberOfficialized(member_id=who, cell_id=cells[0], official_since=day()))
            elif what < 0.7:
                src.emit(mb.MemberTransferred(member_id=who, from_cell_id=cells[0], to_cell_id=rng.choice(cells),
                                              kind=rng.choice(("official", "official", "temporary")),
                                              effective_from=rng.choice((day(), admitted))))
            else:
                src.emit(mb.MemberRemoved(member_id=who, cell_id=cells[0], reason="moved_away", effective_from=day()))
    return src.log


def test_official_counts_are_the_register_joined_with_its_spells_on_every_day(store_settings):
    """`official_spells`, kept by the projection (one event per transaction or in batches of any size), gives
    each cell's official members on any day exactly as the join of the register with its home cell spells
    does; and a store made before the table gets it filled when the schema is applied."""
    from services.reporting.compliance.rows import official_counts
    from shared.contracts import parse_event

    events = [parse_event(data) for data in register_stream(13)]
    rng = random.Random(2)
    days = [dt.date(2019, 1, 1) + dt.timedelta(days=d) for d in range(0, 7 * 366, 29)]
    for name, sizes in (("single", [1]), ("batched", [1, 3, 17, 500])):
        store = TrackedStore(store_settings, f"officials_{name}")
        store.create_tables(schema.DDL)
        try:
            checked = 0
            for i in applied_in_batches(store, "members", events, sizes, rng):
                with store.read() as sql:
                    for day in rng.sample(days, 6) if i < len(events) else days:
                        iso = day.isoformat()
                        joined = {r["cell_id"]: int(r["n"])
                                  for r in sql.execute(JOINED_OFFICIALS, (iso,) * 4).fetchall()}
                        assert official_counts(sql, day) == joined, f"{name}: after event {i}, on {day}"
                        checked += bool(joined)
            assert checked > 50
            with store.write() as sql:  # a store made before the table: emptied, filled by the schema
                kept = spells(sql)
                sql.execute("DELETE FROM official_spells")
            store.create_tables(schema.DDL)
            with store.read() as sql:
                assert spells(sql) == kept and kept
        finally:
            store.close()
