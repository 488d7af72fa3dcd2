"""A year of a district (seed 004's shape), generated through the application layer, for replay benchmarks.

    .venv/bin/python -m tests.bench.district_year [--store postgres|sqlite] [--cells 417] [--members 9255]
        [--base-orgs 68] [--db-prefix chibo_bench] [--data-dir var/bench] [--year 2025] [--seed 4] [--replace]

Seed 004's district (Mê Linh): 68 base organisations, 9,255 members, 417 cells, blocks mixed. This builds one
of that size (or of the size asked) DIRECTLY through MembersApplication and MeetingsApplication, the code the
HTTP services run, without HTTP or a broker: the city, the district, the base organisations (communes of
residential cells, administrative bodies, enterprises, armed-force units), the members' register with
supervisors, confirmations, exemptions, temporary transfers, admissions, removals and a few cell mergers on
1 July, then every cell's year of meetings (regular monthly, thematic each quarter, or both in one combined
session) with attendance, guests, agenda steps, speakers, dues, resolutions, reviews of the previous
resolution and closed minutes. The meetings application's roster replica (services.meetings.roster) is fed
straight from the members' notification log through the same tracked applier the service uses, in the
meetings service's own read-model store, so `chibo run meetings` on that store starts caught up.

The stores are the services' own (PostgreSQL databases <prefix>_members and <prefix>_meetings, or SQLite files
under --data-dir): at the end it prints the environment under which `chibo run` and `chibo relay` serve them,
so reporting (<prefix>_reporting, created empty) can be timed replaying the year. Not run by `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from services.demo import AGENDA, FIRST_NAMES, GISTS, GIVEN, RESOLUTIONS
from services.meetings import roster
from services.meetings.application import MeetingsApplication
from services.meetings.integration import translate as translate_meetings
from services.members.application import MembersApplication
from services.members.integration import translate as translate_members
from shared.config import StoreSettings
from shared.consumer import TrackedApplier
from shared.relay import EnvelopeReader
from shared.stores import TrackedStore, event_store_env

BY = "bench"
# block -> (kind of its base organisations, share of the base organisations, share of the cells, size weight,
# chance a member attends, chance the cell misses a month). Mê Linh: communes and towns hold most cells and
# most members; administrative bodies many small base organisations; a dozen enterprises; a few armed units.
BLOCKS: dict[str, tuple[str, float, float, float, float, float]] = {
    "residential": ("commune", 18 / 68, 0.64, 1.6, 0.86, 0.04),
    "administrative": ("base_organisation", 35 / 68, 0.29, 0.8, 0.985, 0.005),
    "enterprise": ("base_organisation", 12 / 68, 0.06, 0.9, 0.93, 0.03),
    "armed_forces": ("base_organisation", 3 / 68, 0.01, 0.7, 0.99, 0.0),
}
ORG_NAMES = {"residential": "Đảng bộ xã {n}", "administrative": "Đảng bộ cơ quan {n}",
             "enterprise": "Đảng bộ Công ty {n}", "armed_forces": "Đảng bộ Quân sự {n}"}
CELL_NAMES = {"residential": "Chi bộ thôn {n}", "administrative": "Chi bộ phòng {n}",
              "enterprise": "Chi bộ phân xưởng {n}", "armed_forces": "Chi bộ đơn vị {n}"}


@dataclass
class Cell:
    id: uuid.UUID
    code: str
    block: str
    org: int  # index of its base organisation
    members: list[uuid.UUID] = field(default_factory=list)
    ends: dt.date | None = None  # merged into another cell from this date


@dataclass
class Tally:
    commands: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, label: str, started: float) -> None:
        self.seconds[label] = time.perf_counter() - started


def split(total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """`total` split in proportion to `weights` (largest remainders), each part at least `minimum`."""
    rest = total - minimum * len(weights)
    if rest < 0:
        raise SystemExit(f"cannot split {total} into {len(weights)} parts of at least {minimum}")
    raw = [rest * w / sum(weights) for w in weights]
    parts = [int(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)[:rest - sum(parts)]:
        parts[i] += 1
    return [p + minimum for p in parts]


class DistrictYear:
    def __init__(self, settings: StoreSettings, year: int, seed: int):
        self.year = year
        self.rng = random.Random(seed)
        today = dt.date(year + 1, 1, 15)  # the year is over when it is recorded (dates are checked against it)
        self.views = TrackedStore(settings, "members", name="views")
        self.members = MembersApplication(event_store_env(settings, "members"), today=lambda: today,
                                          views_store=self.views)
        self.meetings = MeetingsApplication(event_store_env(settings, "meetings"), today=lambda: today)
        self.replica = TrackedStore(settings, "meetings")  # the meetings service's read-model store
        self.replica.create_tables(roster.DDL)
        reader = EnvelopeReader("members", self.members, translate_members)

        def fetch_range(source: str, after: int, before: int) -> Iterable[dict[str, Any]]:
            while after < before - 1:
                page = reader.page(after, 1000)
                if not page:
                    return
                for envelope in page:
                    if envelope.position >= before:
                        return
                    yield envelope.to_json()
                    after = envelope.position

        def refuse(body: dict[str, Any], reason: str) -> None:
            raise RuntimeError(f"the roster replica refused members event {body['position']}: {reason}")

        self.applier = TrackedApplier("meetings", self.replica, roster.project, fetch_range, refuse)
        self.rosters = roster.RosterReader(self.replica)
        self.tally = Tally()
        self.cells: list[Cell] = []
        self.orgs: list[uuid.UUID] = []
        self.supervisors: dict[uuid.UUID, uuid.UUID] = {}  # supervisor -> own cell
        self.admitted = 0

    def close(self) -> None:
        for closeable in (self.members, self.meetings, self.views, self.replica):
            closeable.close()

    def unit(self, **kwargs: Any) -> uuid.UUID:
        self.tally.commands["create_unit"] += 1
        return self.members.create_unit(effective_from=dt.date(self.year - 45, 1, 1), by=BY, **kwargs).id

    # ---- the register ------------------------------------------------------------------------------------

    def build_tree(self, n_orgs: int, n_cells: int) -> None:
        city = self.unit(kind="city", name="Thành ủy Hà Nội", code="HN", parent_id=None, block=None)
        district = self.unit(kind="district", name="Huyện ủy Mê Linh (mẫu)", code="ML", parent_id=city, block=None)
        blocks = list(BLOCKS)
        orgs_per_block = split(n_orgs, [BLOCKS[b][1] for b in blocks], minimum=1)
        cells_per_block = split(n_cells, [BLOCKS[b][2] for b in blocks], minimum=1)
        for block, n_org, n_cell in zip(blocks, orgs_per_block, cells_per_block, strict=True):
            kind = BLOCKS[block][0]
            n_org = min(n_org, n_cell)
            first = len(self.orgs)
            for i in range(n_org):
                code = f"ML-{block[:3].upper()}{i + 1:02d}"
                self.orgs.append(self.unit(kind=kind, name=ORG_NAMES[block].format(n=i + 1), code=code,
                                           parent_id=district, block=None))
            for j, count in enumerate(split(n_cell, [1.0] * n_org)):
                org = first + j
                for k in range(count):
                    code = f"ML-{block[:3].upper()}{j + 1:02d}-{k + 1:02d}"
                    cell_id = self.unit(kind="cell", name=CELL_NAMES[block].format(n=k + 1), code=code,
                                        parent_id=self.orgs[org], block=block)
                    self.cells.append(Cell(cell_id, code, block, org))

    def admit(self, cell: Cell, admitted_on: dt.date, official_since: dt.date | None,
              born_on: dt.date | None = None) -> uuid.UUID:
        rng = self.rng
        self.admitted += 1
        member = self.members.admit_member(
            code=f"ML{self.admitted:06d}", full_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(GIVEN)}", cell_id=cell.id,
            admitted_on=admitted_on, status="official" if official_since else "probationary",
            official_since=official_since, born_on=born_on, by=BY)
        cell.members.append(member.id)
        return member.id

    def build_register(self, n_members: int) -> list[tuple[dt.date, uuid.UUID]]:
        """Admit the members (a few still probationary); return the probationers with their confirmation day."""
        rng, year = self.rng, self.year
        weights = [BLOCKS[c.block][3] * rng.uniform(0.6, 1.4) for c in self.cells]
        probationers = []
        for cell, size in zip(self.cells, split(n_members, weights, minimum=3), strict=True):
            for i in range(size):
                if i >= 3 and rng.random() < 0.05:  # admitted last year: confirmed in this one
                    admitted = dt.date(year - 1, 1, 1) + dt.timedelta(days=rng.randrange(0, 350))
                    probationers.append((admitted + dt.timedelta(days=375),
                                         self.admit(cell, admitted, None)))
                else:
                    admitted = dt.date(year - 2, 6, 1) - dt.timedelta(days=rng.randrange(0, 40 * 360))
                    old = dt.date(year - 82, 1, 1) if rng.random() < 0.03 else None
                    self.admit(cell, admitted, admitted + dt.timedelta(days=370), born_on=old)
                self.tally.commands["admit_member"] += 1
        return probationers

    def live_the_register(self, probationers: list[tuple[dt.date, uuid.UUID]], n_merges: int) -> None:
        """Supervisors from 2 January, then the year's changes in date order, the mergers on 1 July."""
        rng, year = self.rng, self.year
        merge_day = dt.date(year, 7, 1)
        by_org: dict[int, list[Cell]] = {}
        for cell in self.cells:
            by_org.setdefault(cell.org, []).append(cell)
        residential = [cells for cells in by_org.values() if cells[0].block == "residential" and len(cells) >= 3]
        merges = [(cells[-1], cells[-2]) for cells in rng.sample(residential, min(n_merges, len(residential)))]
        untouchable = {c.id for pair in merges for c in pair}  # no other change in a merge's cells
        for cells in by_org.values():
            supervisor = cells[0].members[0]
            self.supervisors[supervisor] = cells[0].id
            for cell in cells[1:]:
                self.tally.commands["assign_supervisor"] += 1
                self.members.assign_supervisor(supervisor_id=supervisor, cell_id=cell.id,
                                               effective_from=dt.date(year, 1, 2), by=BY)
        changes: list[tuple[dt.date, int, str, Any]] = []  # (day, order, command, action)

        def on(day: dt.date, command: str, action: Any) -> None:
            changes.append((day, len(changes), command, action))

        for day, member in probationers:
            on(day, "confirm_member", lambda member=member, day=day: self.members.confirm_member(
                member_id=member, official_since=day, by=BY))
        confirmed = {m for _, m in probationers}
        free = [(c, m) for c in self.cells if c.id not in untouchable for m in c.members[1:]
                if m not in self.supervisors and m not in confirmed]
        for cell, member in rng.sample(free, len(free) // 25):  # 4%: one change each in the year
            day = dt.date(year, 1, 10) + dt.timedelta(days=rng.randrange(0, 320))
            r = rng.random()
            if r < 0.4:
                on(day, "exempt_member", lambda member=member, day=day: self.members.exempt_member(
                    member_id=member, reason="age", note="Đảng viên cao tuổi, sức khỏe yếu", effective_from=day,
                    by=BY))
            elif r < 0.6:
                hosts = [c for c in self.cells if c.org == cell.org and c.id not in untouchable and c is not cell]
                if hosts:
                    back = day + dt.timedelta(days=rng.choice([61, 92, 120]))
                    on(day, "transfer_member", lambda member=member, day=day, host=rng.choice(hosts).id, back=back:
                       self.members.transfer_member(member_id=member, to_cell_id=host, kind="temporary",
                                                    effective_from=day, until=back, by=BY))
            else:
                on(day, "remove_member", lambda member=member, day=day: self.members.remove_member(
                    member_id=member, reason="moved_away", note="Chuyển nơi cư trú", effective_from=day, by=BY))
        for cell in rng.sample([c for c in self.cells if c.id not in untouchable], len(self.cells) // 8):
            day = dt.date(year, 2, 1) + dt.timedelta(days=rng.randrange(0, 300))
            on(day, "admit_member", lambda cell=cell, day=day: self.admit(cell, day, None))
        for source, target in merges:
            source.ends = merge_day
            on(merge_day, "merge_units", lambda source=source, target=target: self.members.merge_units(
                source_ids=[source.id], target_id=target.id, effective_from=merge_day, by=BY))
        for _, _, command, action in sorted(changes, key=lambda c: (c[0], c[1])):
            self.tally.commands[command] += 1
            action()

    # ---- the meetings ------------------------------------------------------------------------------------

    def hold(self, cell: Cell, kind: str, day: dt.date, previous: uuid.UUID | None) -> uuid.UUID | None:
        """One meeting in one transaction, then a vote, a review and closing as separate commands; return
        the meeting's adopted-or-not resolution to review next time (or None)."""
        rng = self.rng
        attends = BLOCKS[cell.block][4]
        members = self.rosters.roster_on(str(cell.id), day)
        present, absent = [], []
        for m in members:
            if m.status == "temporarily_elsewhere":
                absent.append({"member_id": m.member_id, "excused": True, "reason": "sinh hoạt tạm thời nơi khác"})
            elif m.status == "exempted" and rng.random() < 0.9:
                absent.append({"member_id": m.member_id, "excused": True, "reason": "được miễn sinh hoạt"})
            elif rng.random() < attends:
                present.append(m.member_id)
            elif rng.random() < 0.8:
                absent.append({"member_id": m.member_id, "excused": True,
                               "reason": rng.choice(["ốm", "đi công tác", "việc gia đình"])})
            else:
                absent.append({"member_id": m.member_id, "excused": False})
        guests = [{"guest_id": s.supervisor_id} for s in self.rosters.supervisors_on(str(cell.id), day)
                  if rng.random() < 0.7]
        skip = rng.choice(AGENDA[1:-1])[0] if rng.random() < 0.1 else None
        steps = [{"step": s, "note": n} for s, n in AGENDA if s != skip] if kind != "thematic" else []
        speakers = [{"member_id": m, "gist": rng.choice(GISTS)} for m in rng.sample(present, min(3, len(present)))]
        month = day.strftime("%Y-%m")
        long = kind == "combined"
        meeting = self.meetings.hold_meeting(
            roster=self.rosters, cell_id=cell.id, kind=kind, date=day, place="Hội trường",
            topic="Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh" if kind != "regular" else None,
            start_time=dt.time(14, 0), end_time=dt.time(16, 15) if long else dt.time(15, 45),
            chair_id=None, minute_taker_id=None, present=present, absent=absent, guests=guests,
            agenda_steps=steps, speakers=speakers,
            dues=[{"member_id": m, "month": month, "paid": True} for m in present] if kind != "thematic" else [],
            by=BY)
        self.tally.commands["hold_meeting"] += 1
        if kind == "thematic":
            return previous
        if previous is not None and rng.random() < 0.8:
            self.tally.commands["review"] += 1
            self.meetings.review(meeting.id, resolution_id=previous, by=BY, note="Đánh giá việc thực hiện",
                                 outcome=rng.choice(["implemented", "implemented", "partly", "not_implemented"]))
        resolution = None
        voters = [m.member_id for m in members if m.member_id in present and m.official
                  and m.status in ("official", "exempted")]
        if voters and rng.random() < 0.6:
            self.tally.commands["vote"] += 1
            voted = self.meetings.vote(meeting.id, text=rng.choice(RESOLUTIONS), kind="ordinary",
                                       votes_for=len(voters), votes_against=0, abstentions=0, voters=voters, by=BY)
            resolution = voted.resolutions[-1]["resolution_id"]
        if skip is None and rng.random() < 0.7:
            self.tally.commands["close_meeting"] += 1
            self.meetings.close_meeting(meeting.id, by=BY)
        return resolution

    def hold_the_year(self) -> None:
        rng, year = self.rng, self.year
        for cell in self.cells:
            misses = BLOCKS[cell.block][5]
            previous: uuid.UUID | None = None
            for quarter in range(4):
                combined = rng.random() < 0.6  # the thematic meeting held with the quarter's last regular one
                thematic_apart = not combined and rng.random() < 0.75
                for month in range(3 * quarter + 1, 3 * quarter + 4):
                    day = dt.date(year, month, rng.randrange(5, 26))
                    if cell.ends is not None and day >= cell.ends:
                        break
                    if thematic_apart and month == 3 * quarter + 2:
                        self.hold(cell, "thematic", dt.date(year, month, rng.randrange(1, 5)), None)
                    if rng.random() < misses:
                        previous = None
                        continue
                    kind = "combined" if combined and month == 3 * quarter + 3 else "regular"
                    previous = self.hold(cell, kind, day, previous)


def published(source: str, app: Any, translate: Any) -> tuple[int, Counter[str], float]:
    """(stored events, published envelopes by type, seconds to read and translate them all)."""
    reader = EnvelopeReader(source, app, translate)
    started = time.perf_counter()
    types: Counter[str] = Counter()
    after = stored = 0
    while True:
        batch, last = reader.read(after, 5000)
        if last == after:
            break
        stored += len(batch)
        types.update(e.type for _, e in batch if e is not None)
        after = last
    return stored, types, time.perf_counter() - started


def clear(settings: StoreSettings, replace: bool) -> None:
    """Refuse to add a second district to existing stores, unless --replace: then drop them first."""
    services = ("members", "meetings", "reporting")
    if settings.kind == "postgres":
        with psycopg.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                             password=settings.pg_password or None, dbname="postgres", autocommit=True) as conn:
            names = [settings.dbname(s) for s in services]
            found = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,))]
            if found and not replace:
                raise SystemExit(f"databases {', '.join(found)} exist: pass --replace to drop them, or another "
                                 "--db-prefix")
            for name in found:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    else:
        found = [Path(settings.data_dir) / s for s in services if (Path(settings.data_dir) / s).exists()]
        if found and not replace:
            raise SystemExit(f"{', '.join(map(str, found))} exist: pass --replace to remove them, or another "
                             "--data-dir")
        for path in found:
            shutil.rmtree(path)


def serve_env(settings: StoreSettings) -> str:
    if settings.kind == "postgres":
        env = f"CHIBO_STORE=postgres CHIBO_PG_DB_PREFIX={settings.pg_db_prefix}"
        where = ", ".join(settings.dbname(s) for s in ("members", "meetings", "reporting"))
    else:
        env = f"CHIBO_STORE=sqlite CHIBO_DATA_DIR={Path(settings.data_dir).resolve()}"
        where = f"{Path(settings.data_dir).resolve()}/<service>/*.sqlite"
    return "\n".join([
        f"The services serve this data under: {env}   ({where}; reporting's is new and empty)",
        f"  {env} .venv/bin/chibo run members      # :8001",
        f"  {env} .venv/bin/chibo relay members",
        f"  {env} .venv/bin/chibo run meetings     # :8002; its roster replica is caught up already",
        f"  {env} .venv/bin/chibo relay meetings",
        f"  {env} .venv/bin/chibo run reporting    # :8003; replays both sources from position 0",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--cells", type=int, default=417)
    parser.add_argument("--members", type=int, default=9255)
    parser.add_argument("--base-orgs", type=int, default=68)
    parser.add_argument("--merges", type=int, default=3, help="cell mergers on 1 July")
    parser.add_argument("--db-prefix", default="chibo_bench", help="PostgreSQL databases <prefix>_<service>")
    parser.add_argument("--data-dir", default="var/bench", help="SQLite files, with --store sqlite")
    parser.add_argument("--year", type=int, default=dt.date.today().year - 1)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--replace", action="store_true", help="drop the stores first if they exist")
    parser.add_argument("--durable", action="store_true",
                        help="PostgreSQL: wait for each commit to reach the disk (default: synchronous_commit=off "
                             "for this process's connections only; the services later run with the server's own)")
    args = parser.parse_args(argv)
    if args.store == "postgres" and not args.durable:  # libpq reads it for every connection this process opens
        os.environ["PGOPTIONS"] = (os.environ.get("PGOPTIONS", "") + " -c synchronous_commit=off").strip()
    settings = StoreSettings(kind=args.store, data_dir=args.data_dir, pg_db_prefix=args.db_prefix)
    clear(settings, args.replace)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; {args.store}; "
          f"{args.base_orgs} base organisations, {args.cells} cells, {args.members} members, year {args.year}",
          flush=True)
    build = DistrictYear(settings, args.year, args.seed)
    tally = build.tally
    try:
        started = time.perf_counter()
        build.build_tree(args.base_orgs, args.cells)
        probationers = build.build_register(args.members)
        build.live_the_register(probationers, args.merges)
        tally.timed("register", started)
        print(f"register: {sum(tally.commands.values())} commands in {tally.seconds['register']:.1f} s", flush=True)
        started = time.perf_counter()
        replica = build.applier.catch_up("members")
        tally.timed("replica", started)
        print(f"roster replica: {replica.applied} members events applied in {tally.seconds['replica']:.1f} s "
              f"({replica.applied / tally.seconds['replica']:.0f}/s)", flush=True)
        started = time.perf_counter()
        before = sum(tally.commands.values())
        build.hold_the_year()
        tally.timed("meetings", started)
        print(f"meetings: {sum(tally.commands.values()) - before} commands in {tally.seconds['meetings']:.1f} s",
              flush=True)
        total_events = 0
        for source, app, translate in (("members", build.members, translate_members),
                                       ("meetings", build.meetings, translate_meetings)):
            stored, types, seconds = published(source, app, translate)
            n = sum(types.values())
            total_events += n
            print(f"{source}: {stored} events stored, {n} published ({n / seconds:.0f}/s read and translated); "
                  + ", ".join(f"{t} {c}" for t, c in types.most_common()), flush=True)
    finally:
        build.close()
    generating = tally.seconds["register"] + tally.seconds["replica"] + tally.seconds["meetings"]
    print("commands: " + ", ".join(f"{k} {v}" for k, v in tally.commands.most_common()))
    print(f"generated {total_events} published events in {generating:.0f} s ({total_events / generating:.0f} events/s "
          f"through the application layer)")
    print(serve_env(settings))


if __name__ == "__main__":
    sys.exit(main())
