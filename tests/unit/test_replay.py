"""Replay (issue 5), free of nameko: digests that do not depend on storage order or database, a rebuild equal to
the live apply, and the as-of (occurred_at, Việt Nam day) and known-at (recorded_at) filters."""

import datetime as dt
import uuid

import pytest
from prometheus_client import REGISTRY

from services.reporting import replay
from services.reporting.compliance import projection, schema
from shared.config import ChiboSettings
from shared.consumer import TrackedApplier
from shared.contracts import meetings as mt
from shared.contracts import parse_event
from shared.stores import TrackedStore
from tests.factories import Source, held, unit

TABLES = {"units": ("unit_id",), "meetings": ("meeting_id",), "meeting_roster": ("meeting_id", "member_id"),
          "dues": ("member_id", "month"), "dues_months": ("cell_id", "month")}
PROJECTION = {"ddl": schema.DDL, "project": projection.project, "tables": TABLES}

# keys that byte order and a locale collation sort differently (case, hyphen, accents), values of every kind
DIGEST_DDL = ("CREATE TABLE IF NOT EXISTS t (k TEXT NOT NULL, n BIGINT NOT NULL, flag BOOLEAN NOT NULL,"
              " note TEXT, PRIMARY KEY (k, n))",)
ROWS = [("a-b", 2, True, "Nguyễn Văn A"), ("A-c", 1, False, None), ("ab", 10, True, ""), ("ab", 9, False, "x"),
        ("Đ", 1, True, "đ")]


def digest_of(settings, name, rows):
    store = TrackedStore(settings, name)
    # PostgreSQL's text order follows the column's collation: Vietnamese, as a production database may be set up
    # (the test server's default is C, which would hide a digest that depends on it)
    store.create_tables([d.replace("k TEXT", 'k TEXT COLLATE "vi-x-icu"') if store.postgres else d
                         for d in DIGEST_DDL])
    with store.write() as sql:
        for row in rows:
            sql.execute("INSERT INTO t (k, n, flag, note) VALUES (?, ?, ?, ?)", row)
    snap = replay.snapshot(store, {"t": ("k", "n")}, sources=("members",))
    store.close()
    return snap


def test_equal_content_has_one_digest_in_any_order_on_both_databases(sqlite_settings, postgres_settings):
    snaps = [digest_of(s, name, rows) for s in (sqlite_settings, postgres_settings)
             for name, rows in (("ordered", ROWS), ("reversed", ROWS[::-1]))]
    assert len({s.digests["t"] for s in snaps}) == 1
    assert all(s.rows == {"t": 5} and s.positions == {"members": 0} for s in snaps)
    for settings in (sqlite_settings, postgres_settings):
        changed = digest_of(settings, "changed", [*ROWS[:-1], ("Đ", 1, False, "đ")])  # one boolean flipped
        assert changed.digests["t"] != snaps[0].digests["t"]
        null = digest_of(settings, "null", [*ROWS[:-1], ("Đ", 1, True, None)])  # "đ" -> NULL
        assert null.digests["t"] not in (snaps[0].digests["t"], changed.digests["t"])


class Logs:
    """Two fake sources and their notification API."""

    def __init__(self):
        self.members, self.meetings = Source("members"), Source("meetings")

    def fetch_range(self, source, after, before):
        return getattr(self, source).fetch_range(source, after, before)

    def settings(self, store_settings):
        return ChiboSettings(store=store_settings, amqp_uri="memory://")


def record_a_month(logs):
    """A ward, two cells, two meetings with attendance; a hole in the meetings log (an unpublished event)."""
    ward = unit("ward", code="W")
    cells = [unit("cell", parent=ward.unit_id, code=f"C{i}") for i in (1, 2)]
    logs.members.emit(ward, [str(ward.unit_id)])
    for c in cells:
        logs.members.emit(c, [str(ward.unit_id), str(c.unit_id)], hole=1)
    for cell, day in ((cells[0], dt.date(2026, 1, 10)), (cells[1], dt.date(2026, 1, 24))):
        roster = [(uuid.uuid4(), "official"), (uuid.uuid4(), "probationary")]
        meeting = held(cell.unit_id, roster, day)
        logs.meetings.emit(meeting, hole=1)
        logs.meetings.emit(mt.MemberAttended(meeting_id=meeting.meeting_id, cell_id=cell.unit_id,
                                             member_id=roster[0][0], status="official"))
        logs.meetings.emit(mt.MemberAbsent(meeting_id=meeting.meeting_id, cell_id=cell.unit_id,
                                           member_id=roster[1][0], status="probationary", excused=True, reason="ốm"))
        for (member_id, _), paid in zip(roster, (True, False), strict=True):  # đảng phí
            logs.meetings.emit(mt.DuesCollected(meeting_id=meeting.meeting_id, cell_id=cell.unit_id,
                                                member_id=member_id, month="2026-01", paid=paid))
    return cells


def live_store(store_settings, logs, name="reporting"):
    """The live consumer's way: one TrackedApplier, the two sources' messages interleaved."""
    store = TrackedStore(store_settings, name)
    store.create_tables(schema.DDL)
    applier = TrackedApplier(name, store, projection.project, logs.fetch_range, dead_letter=lambda b, r: None)
    meetings, members = list(logs.meetings.log), list(logs.members.log)
    while meetings or members:  # a meeting first, then a member event, ...: not the replay's order
        for queue in (meetings, members):
            if queue:
                applier.handle(*parse_event(queue.pop(0)))
    return store


def test_a_rebuild_gives_the_tables_of_the_live_apply(store_settings):
    logs = Logs()
    record_a_month(logs)
    live = live_store(store_settings, logs)
    expected = replay.snapshot(live, TABLES)
    live.close()

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {s: sample("chibo_replay_events_total", source=s, outcome="applied") for s in ("members", "meetings")}
    result = replay.rebuild(logs.settings(store_settings), progress=False, fetch_range=logs.fetch_range, **PROJECTION)
    assert result.snapshot == expected
    # progress metrics (served by `chibo replay --metrics-address`): each source's events, where it got, done
    assert {s: sample("chibo_replay_events_total", source=s, outcome="applied") - before[s]
            for s in ("members", "meetings")} == {"members": 3, "meetings": 10}
    assert sample("chibo_replay_position", source="meetings") == 12 and sample("chibo_replay_running") == 0
    assert result.positions == {"members": 5, "meetings": 12}  # holes: 1 + 2 + 2; 2 + 5 + 5
    assert result.snapshot.rows == {"units": 3, "meetings": 2, "meeting_roster": 4, "dues": 4, "dues_months": 2,
                                   "dead_letters": 0}
    assert (result.applied, result.skipped, result.dead_lettered, result.events) == (13, 0, [], 13)
    if store_settings.kind == "postgres":  # analysed once rebuilt: the planner has statistics from the start
        import psycopg

        with psycopg.connect(host=store_settings.pg_host, port=store_settings.pg_port, user=store_settings.pg_user,
                             dbname=store_settings.dbname(result.target)) as conn:
            analysed = conn.execute("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
                                    " AND last_vacuum IS NOT NULL").fetchall()
        assert {"meetings", "meeting_roster", "units"} <= {r[0] for r in analysed}

    again = replay.rebuild(logs.settings(store_settings), progress=False, fetch_range=logs.fetch_range,
                           upto={"members": 3, "meetings": 4}, **PROJECTION)  # drops the previous store first
    assert again.positions == {"members": 3, "meetings": 4}
    assert again.snapshot.rows == {"units": 2, "meetings": 1, "meeting_roster": 2, "dues": 0, "dues_months": 0,
                                  "dead_letters": 0}


def test_verify_finds_the_table_that_differs_from_the_logs(store_settings):
    logs = Logs()
    record_a_month(logs)
    live_store(store_settings, logs).close()
    settings = logs.settings(store_settings)
    ok = replay.verify(settings, progress=False, fetch_range=logs.fetch_range, **PROJECTION)
    assert ok.ok and [t.table for t in ok.tables] == ["dead_letters", "dues", "dues_months", "meeting_roster",
                                                      "meetings", "units"]
    assert ok.replay.positions == ok.live.positions == {"members": 5, "meetings": 12}

    live = TrackedStore(store_settings, "reporting")
    with live.write() as sql:  # the live store no longer what the logs say: an absence turned into presence
        sql.execute("UPDATE meeting_roster SET outcome = 'present' WHERE outcome = 'absent_excused'"
                    " AND member_id = (SELECT MIN(member_id) FROM meeting_roster WHERE outcome = 'absent_excused')")
    live.close()
    broken = replay.verify(settings, progress=False, fetch_range=logs.fetch_range, **PROJECTION)
    assert not broken.ok
    assert {t.table: t.equal for t in broken.tables} == {
        "dead_letters": True, "dues": True, "dues_months": True, "meeting_roster": False, "meetings": True,
        "units": True}
    lines = list(replay.iter_lines(broken))
    assert any(line.startswith("meeting_roster") and line.endswith("KHÁC") for line in lines)

    live = TrackedStore(store_settings, "reporting")
    with live.write() as sql:  # a kept count drifted from its rows (written past the triggers)
        sql.execute("UPDATE dues_months SET paid = paid + 1 WHERE cell_id = (SELECT MIN(cell_id) FROM dues_months)")
    live.close()
    drifted = replay.verify(settings, progress=False, fetch_range=logs.fetch_range, **PROJECTION)
    assert {t.table for t in drifted.tables if not t.equal} == {"meeting_roster", "dues_months"}


def test_a_replay_never_drops_a_live_store(sqlite_settings):
    for target in ("reporting", "members", "Reporting; DROP", ""):
        with pytest.raises(replay.ReplayError):
            replay.rebuild(ChiboSettings(store=sqlite_settings, amqp_uri="memory://"), target=target,
                           progress=False, fetch_range=lambda *a: [], **PROJECTION)


def at(day, hour, minute=0):
    return dt.datetime(2026, *day, hour, minute, tzinfo=dt.UTC)


def test_as_of_takes_the_day_in_viet_nam_and_known_at_the_recording_instant(sqlite_settings):
    logs = Logs()
    ward = unit("ward", code="W")
    cell = unit("cell", parent=ward.unit_id, code="C1")
    logs.members.emit(ward, [str(ward.unit_id)])
    logs.members.emit(cell, [str(ward.unit_id), str(cell.unit_id)])
    member = uuid.uuid4()
    # 16:30 UTC on 31 January is 23:30 in Việt Nam: still January
    jan = held(cell.unit_id, [(member, "official")], dt.date(2026, 1, 31))
    # 17:30 UTC on 31 January is 00:30 on 1 February in Việt Nam
    feb = held(cell.unit_id, [(member, "official")], dt.date(2026, 2, 1))
    timed = [
        (jan, at((1, 31), 16, 30), at((1, 31), 17)),
        (mt.MemberAbsent(meeting_id=jan.meeting_id, cell_id=cell.unit_id, member_id=member, status="official",
                         excused=False, reason=""), at((1, 31), 16, 30), at((1, 31), 17)),
        (feb, at((1, 31), 17, 30), at((2, 1), 2)),
        # recorded on 10 March: the January absence corrected to presence (đính chính)
        (mt.MeetingCorrected(meeting_id=jan.meeting_id, cell_id=cell.unit_id, path=f"attendance.{member}",
                             old_value={"present": False}, new_value={"present": True}, reason="ghi nhầm"),
         at((1, 31), 16, 30), at((3, 10), 3)),
    ]
    for payload, occurred, recorded in timed:
        data = logs.meetings.emit(payload)
        data.update(occurred_at=occurred.isoformat(), recorded_at=recorded.isoformat())
    settings = logs.settings(sqlite_settings)

    def outcome(result):
        store = TrackedStore(sqlite_settings, result.target)
        with store.read() as sql:
            rows = sql.execute("SELECT m.date, r.outcome FROM meetings m JOIN meeting_roster r"
                               " ON r.meeting_id = m.meeting_id ORDER BY m.date").fetchall()
        store.close()
        return [(r["date"], r["outcome"]) for r in rows]

    january = replay.rebuild(settings, target="asof", as_of=dt.date(2026, 1, 31), progress=False,
                             fetch_range=logs.fetch_range, **PROJECTION)
    assert outcome(january) == [("2026-01-31", "present")]  # the correction occurred in January too
    assert (january.applied, january.skipped) == (5, 1)
    assert january.positions == {"members": 2, "meetings": 4}  # the skipped event's position is recorded

    before_fix = replay.rebuild(settings, target="known", known_at=dt.datetime(2026, 3, 1), progress=False,
                                fetch_range=logs.fetch_range, **PROJECTION)
    assert outcome(before_fix) == [("2026-01-31", "absent_unexcused"), ("2026-02-01", "pending")]
    assert (before_fix.applied, before_fix.skipped) == (5, 1)

    # both: what was known on 1 March of what had happened by 31 January; naive known_at is Việt Nam time
    both = replay.rebuild(settings, target="both", as_of=dt.date(2026, 1, 31),
                          known_at=dt.datetime(2026, 2, 1, 8, 59), progress=False, fetch_range=logs.fetch_range,
                          **PROJECTION)
    assert outcome(both) == [("2026-01-31", "absent_unexcused")]
    assert (both.applied, both.skipped) == (4, 2)
    edge = replay.rebuild(settings, target="edge", known_at=dt.datetime(2026, 2, 1, 9, 0), progress=False,
                          fetch_range=logs.fetch_range, **PROJECTION)  # 02:00 UTC = 09:00 in Việt Nam: included
    assert outcome(edge) == [("2026-01-31", "absent_unexcused"), ("2026-02-01", "pending")]


def test_the_cli_refuses_a_bad_date_a_future_one_and_a_live_target_with_exit_2(capsys, tmp_path):
    from services.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["replay", "--as-of", "2025-02-30"])
    assert exc.value.code == 2 and "không phải ngày YYYY-MM-DD" in capsys.readouterr().err
    tomorrow = dt.datetime.now(replay.VIETNAM).date() + dt.timedelta(days=1)
    assert main(["replay", "--as-of", tomorrow.isoformat(), "--lang", "en"]) == 2
    assert capsys.readouterr().err == f"chibo replay: --as-of {tomorrow} is in the future\n"
    assert main(["replay", "--batch", "0", "--lang", "en"]) == 2
    assert capsys.readouterr().err == "chibo replay: --batch must be at least 1: 0\n"
    embedded = ["--embedded", "--data-dir", str(tmp_path), "--url", "http://127.0.0.1:9"]
    assert main(["replay", *embedded, "--target", "reporting"]) == 2
    assert "là kho đang chạy" in capsys.readouterr().err
    assert main(["replay", *embedded]) == 2  # no live store in that data dir
    assert f"không có kho reporting đang chạy ({tmp_path}/reporting/views.sqlite)" in capsys.readouterr().err


def test_a_batched_rebuild_gives_the_same_tables_and_dead_letters(store_settings):
    """batch > 1 (a replay's speed-up: many events per transaction, each meeting and member-year recounted once
    per batch) leaves every table as one event per transaction does, a refused event dead-lettered alike."""
    logs = Logs()
    cells = record_a_month(logs)
    clean = [replay.rebuild(logs.settings(store_settings), target=f"clean{batch}", progress=False,
                            fetch_range=logs.fetch_range, batch=batch).snapshot for batch in (1, 100)]
    assert clean[0] == clean[1] and clean[1].rows["dead_letters"] == 0  # the table is there, empty
    logs.meetings.emit(mt.MemberAttended(meeting_id=uuid.uuid4(), cell_id=cells[0].unit_id, member_id=uuid.uuid4(),
                                         status="official"))  # a meeting reporting does not know: refused
    roster = [(uuid.uuid4(), "official"), (uuid.uuid4(), "official"), (uuid.uuid4(), "probationary")]
    later = held(cells[0].unit_id, roster, dt.date(2026, 2, 7))
    logs.meetings.emit(later)
    for member_id, status in roster:
        logs.meetings.emit(mt.MemberAbsent(meeting_id=later.meeting_id, cell_id=cells[0].unit_id, member_id=member_id,
                                           status=status, excused=False))
        if status == "probationary":  # amid the others' updates of the roster: refused when the batch is written
            logs.meetings.emit(mt.MemberAttended(meeting_id=later.meeting_id, cell_id=cells[0].unit_id,
                                                 member_id=uuid.uuid4(), status="official"))
    settings = logs.settings(store_settings)
    for filters in ({}, {"as_of": dt.date(2026, 1, 31)}):
        one = replay.rebuild(settings, target="one", progress=False, fetch_range=logs.fetch_range, **filters)
        assert len(one.dead_lettered) == 2 and one.snapshot.rows["member_years"] > 0
        for batch in (2, 3, 100):
            many = replay.rebuild(settings, target=f"batch{batch}", progress=False, fetch_range=logs.fetch_range,
                                  batch=batch, ahead=batch == 100, **filters)  # read in a forked child
            assert many.snapshot == one.snapshot
            assert (many.applied, many.skipped, many.dead_lettered) == (one.applied, one.skipped, one.dead_lettered)


def index_names(store: TrackedStore) -> set[str]:
    """The store's indexes and triggers."""
    with store.read() as sql:
        if store.postgres:
            rows = sql.execute("SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' UNION"
                               " SELECT DISTINCT 'trigger ' || trigger_name FROM information_schema.triggers"
                               " WHERE trigger_schema = 'public'").fetchall()
        else:
            rows = sql.execute("SELECT CASE type WHEN 'trigger' THEN 'trigger ' || name ELSE name END AS name"
                               " FROM sqlite_master WHERE type IN ('index', 'trigger')").fetchall()
    return {r["name"] for r in rows}


def test_a_rebuild_has_every_index_of_the_schema_the_query_ones_built_after_the_load(store_settings, monkeypatch):
    """The query indexes and the kept counts' triggers are left out while the events are applied and made at
    the end, the kept counts filled from the loaded rows: the rebuilt store has exactly the indexes and
    triggers of a store created from schema.DDL, and its kept counts are what they stand for."""
    logs = Logs()
    record_a_month(logs)
    live = TrackedStore(store_settings, "reporting")
    live.create_tables(schema.DDL)
    expected = index_names(live)
    live.close()
    assert {s.split()[5] for s in schema.QUERY_INDEXES} <= expected and len(schema.QUERY_INDEXES) == 11
    created: list[list[str]] = []
    real = TrackedStore.create_tables

    def spy(self, statements):
        created.append(list(statements))
        real(self, statements)

    monkeypatch.setattr(TrackedStore, "create_tables", spy)
    result = replay.rebuild(logs.settings(store_settings), target="indexed", progress=False,
                            fetch_range=logs.fetch_range, batch=100)
    monkeypatch.undo()
    assert not set(schema.AFTER_LOAD) & set(created[0])  # left out while loading...
    assert created[-1] == list(schema.AFTER_LOAD)  # ...built once the events are in
    assert any(n.startswith("trigger dues_months") for n in expected)
    rebuilt = TrackedStore(store_settings, result.target)
    assert {n for n in index_names(rebuilt) if "dead_letters" not in n} == expected  # (its own table: the applier's)
    with rebuilt.read() as sql:
        kept = [(r["cell_id"], r["month"], int(r["paid"]), int(r["recorded"])) for r in sql.execute(
            "SELECT cell_id, month, paid, recorded FROM dues_months ORDER BY cell_id, month").fetchall()]
        grouped = [(r["cell_id"], r["month"], int(r["paid"]), int(r["recorded"])) for r in sql.execute(
            "SELECT cell_id, month, SUM(paid) AS paid, COUNT(*) AS recorded FROM dues GROUP BY cell_id, month"
            " ORDER BY cell_id, month").fetchall()]
        # the counts the projection keeps, filled from the loaded rows: what they stand for
        years = [tuple(str(v) for v in dict(r).values()) for r in sql.execute(
            "SELECT * FROM meeting_years ORDER BY cell_id, year").fetchall()]
        counted = [tuple(str(v) for v in dict(r).values()) for r in sql.execute(
            schema.meeting_years_counted("1 = 1") + " ORDER BY m.cell_id").fetchall()]
    assert kept and kept == grouped
    assert len(years) == 2 and years == counted
    rebuilt.close()
