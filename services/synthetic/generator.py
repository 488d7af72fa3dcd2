"""A synthetic city's year, written straight through the application layer into the services' own stores.

It runs MembersApplication and MeetingsApplication, the code the HTTP services run (aggregates, encryption at
rest, personal fields sealed per person), without HTTP or a broker, so the stores hold exactly what the
services would have stored: the tree (city, districts, base organisations of four blocks, cells), the members'
register with supervisors, confirmations, exemptions, temporary transfers, admissions, removals and cell
mergers on 1 July (the 2025 reorganisation), then every cell's year of meetings (regular monthly, thematic each
quarter, or both in one combined session; some cells skip months) with attendance, guests, agenda steps,
speakers, dues, resolutions, reviews of the previous resolution and closed minutes. The meetings service's
roster replica is fed from the members' notification log through the tracked applier the service uses, so
`chibo run meetings` on these stores starts caught up.

Deterministic by seed: the same seed and scale give the same facts (names, dates, who attends, which
resolution passes) and the same expected figures; only the identifiers (uuid4, minted by the aggregates)
differ between runs. While it generates, it records what it decided in `Expected` (expected.py), which
counts the figures reporting must give without using reporting's code.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.demo import AGENDA, FIRST_NAMES, GISTS, GIVEN, RESOLUTIONS
from services.meetings import roster
from services.meetings.application import MeetingsApplication
from services.members.application import MembersApplication
from services.members.integration import translate as translate_members
from services.synthetic.expected import CellFacts, Expected, MeetingFacts, MemberFacts, ResolutionFacts
from services.synthetic.scales import Scale
from shared.config import StoreSettings
from shared.consumer import FetchRange, TrackedApplier
from shared.relay import EnvelopeReader
from shared.stores import TrackedStore, event_store_env

BY = "generator"
# block -> (kind of its base organisations, share of the base organisations, share of the cells, size weight,
# chance a member attends, chance the cell misses a month). Seed 004's Mê Linh: communes hold most cells and
# members; administrative bodies many small base organisations; a dozen enterprises; a few armed units.
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
    district: str  # the district's code
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
        raise ValueError(f"cannot split {total} into {len(weights)} parts of at least {minimum}")
    raw = [rest * w / sum(weights) for w in weights]
    parts = [int(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)[:rest - sum(parts)]:
        parts[i] += 1
    return [p + minimum for p in parts]


def store_fetch_range(apps: dict[str, tuple[Any, Any]], page: int = 1000) -> FetchRange:
    """A fetch_range reading the sources' notification logs in-process (source -> (application, translate)),
    the same envelopes their notification APIs serve, without HTTP."""
    readers = {source: EnvelopeReader(source, app, translate) for source, (app, translate) in apps.items()}

    def fetch_range(source: str, after: int, before: int) -> Iterable[dict[str, Any]]:
        while after < before - 1:
            batch = readers[source].page(after, page)
            if not batch:
                return
            for envelope in batch:
                if envelope.position >= before:
                    return
                yield envelope.to_json()
                after = envelope.position

    return fetch_range


class CityYear:
    """One year of a generated city; `run()` writes it, `expected` holds what it must give."""

    def __init__(self, settings: StoreSettings, scale: Scale, year: int, seed: int):
        self.scale, self.year = scale, year
        self.rng = random.Random(seed)
        self.today = dt.date(year + 1, 1, 15)  # recorded after the year is over (dates are checked against it)
        self.views = TrackedStore(settings, "members", name="views")
        self.members = MembersApplication(event_store_env(settings, "members"), today=lambda: self.today,
                                          views_store=self.views)
        self.meetings = MeetingsApplication(event_store_env(settings, "meetings"), today=lambda: self.today)
        self.replica = TrackedStore(settings, "meetings")  # the meetings service's read-model store
        self.replica.create_tables(roster.DDL)

        def refuse(body: dict[str, Any], reason: str) -> None:
            raise RuntimeError(f"the roster replica refused members event {body['position']}: {reason}")

        fetch = store_fetch_range({"members": (self.members, translate_members)})
        self.applier = TrackedApplier("meetings", self.replica, roster.project, fetch, refuse)
        self.rosters = roster.RosterReader(self.replica)
        self.tally = Tally()
        self.expected = Expected(year, self.today)
        self.cells: list[Cell] = []
        self.orgs: list[uuid.UUID] = []
        self.city: uuid.UUID | None = None
        self.districts: dict[str, uuid.UUID] = {}
        self.supervisors: dict[uuid.UUID, uuid.UUID] = {}  # supervisor -> own cell
        self.supervised_from: dict[str, dt.date] = {}  # cell -> day a committee member is assigned to it
        self.order: dict[str, int] = {}  # member -> admission number: rosters in a seed-stable order
        self.admitted = 0

    def close(self) -> None:
        for closeable in (self.members, self.meetings, self.views, self.replica):
            closeable.close()

    def run(self) -> None:
        scale = self.scale
        started = time.perf_counter()
        self.city = self.unit(kind="city", name="Thành ủy (mẫu)", code="TP", parent_id=None, block=None)
        for d in range(scale.districts):
            self.build_district(f"Q{d + 1:03d}", scale.base_orgs, scale.cells, scale.members, scale.merges)
        self.tally.timed("register", started)
        started = time.perf_counter()
        self.tally.commands["replica_events"] = self.applier.catch_up("members").applied
        self.tally.timed("replica", started)
        started = time.perf_counter()
        self.hold_the_year()
        self.tally.timed("meetings", started)

    def unit(self, **kwargs: Any) -> uuid.UUID:
        self.tally.commands["create_unit"] += 1
        return self.members.create_unit(effective_from=dt.date(self.year - 45, 1, 1), by=BY, **kwargs).id

    # ---- the register ------------------------------------------------------------------------------------

    def build_district(self, code: str, n_orgs: int, n_cells: int, n_members: int, n_merges: int) -> None:
        district = self.unit(kind="district", name=f"Quận ủy {code} (mẫu)", code=code, parent_id=self.city,
                             block=None)
        self.districts[code] = district
        first_cell = len(self.cells)
        blocks = list(BLOCKS)
        orgs_per_block = split(n_orgs, [BLOCKS[b][1] for b in blocks], minimum=1)
        cells_per_block = split(n_cells, [BLOCKS[b][2] for b in blocks], minimum=1)
        for block, n_org, n_cell in zip(blocks, orgs_per_block, cells_per_block, strict=True):
            kind = BLOCKS[block][0]
            n_org = min(n_org, n_cell)
            first = len(self.orgs)
            for i in range(n_org):
                self.orgs.append(self.unit(kind=kind, name=ORG_NAMES[block].format(n=i + 1),
                                           code=f"{code}-{block[:3].upper()}{i + 1:02d}", parent_id=district,
                                           block=None))
            for j, count in enumerate(split(n_cell, [1.0] * n_org)):
                org = first + j
                for k in range(count):
                    cell_code = f"{code}-{block[:3].upper()}{j + 1:02d}-{k + 1:02d}"
                    cell_id = self.unit(kind="cell", name=CELL_NAMES[block].format(n=k + 1), code=cell_code,
                                        parent_id=self.orgs[org], block=block)
                    self.cells.append(Cell(cell_id, cell_code, block, org, code))
                    self.expected.cells[str(cell_id)] = CellFacts(str(cell_id), cell_code, block, code)
        cells = self.cells[first_cell:]
        probationers = self.build_register(cells, n_members)
        self.live_the_register(cells, probationers, n_merges)

    def admit(self, cell: Cell, admitted_on: dt.date, official_since: dt.date | None,
              born_on: dt.date | None = None) -> uuid.UUID:
        rng = self.rng
        self.admitted += 1
        self.tally.commands["admit_member"] += 1
        member = self.members.admit_member(
            code=f"M{self.admitted:07d}", full_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(GIVEN)}",
            cell_id=cell.id, admitted_on=admitted_on, status="official" if official_since else "probationary",
            official_since=official_since, born_on=born_on, by=BY)
        cell.members.append(member.id)
        self.order[str(member.id)] = self.admitted
        self.expected.members[str(member.id)] = MemberFacts(str(cell.id), official_since)
        return member.id

    def build_register(self, cells: list[Cell], n_members: int) -> list[tuple[dt.date, uuid.UUID]]:
        """Admit the members (a few still probationary); return the probationers with their confirmation day."""
        rng, year = self.rng, self.year
        weights = [BLOCKS[c.block][3] * rng.uniform(0.6, 1.4) for c in cells]
        probationers = []
        for cell, size in zip(cells, split(n_members, weights, minimum=3), strict=True):
            for i in range(size):
                if i >= 3 and rng.random() < 0.05:  # admitted last year: confirmed in this one
                    admitted = dt.date(year - 1, 1, 1) + dt.timedelta(days=rng.randrange(0, 350))
                    probationers.append((admitted + dt.timedelta(days=375), self.admit(cell, admitted, None)))
                else:
                    admitted = dt.date(year - 2, 6, 1) - dt.timedelta(days=rng.randrange(0, 40 * 360))
                    old = dt.date(year - 82, 1, 1) if rng.random() < 0.03 else None
                    self.admit(cell, admitted, admitted + dt.timedelta(days=370), born_on=old)
        return probationers

    def live_the_register(self, cells: list[Cell], probationers: list[tuple[dt.date, uuid.UUID]],
                          n_merges: int) -> None:
        """Supervisors from 2 January, then the year's changes in date order, the mergers on 1 July."""
        rng, year, facts = self.rng, self.year, self.expected.members
        merge_day = dt.date(year, 7, 1)
        by_org: dict[int, list[Cell]] = {}
        for cell in cells:
            by_org.setdefault(cell.org, []).append(cell)
        residential = [cs for cs in by_org.values() if cs[0].block == "residential" and len(cs) >= 3]
        merges = [(cs[-1], cs[-2]) for cs in rng.sample(residential, min(n_merges, len(residential)))]
        untouchable = {c.id for pair in merges for c in pair}  # no other change in a merge's cells
        for org_cells in by_org.values():
            supervisor = org_cells[0].members[0]
            self.supervisors[supervisor] = org_cells[0].id
            for cell in org_cells[1:]:
                self.tally.commands["assign_supervisor"] += 1
                self.members.assign_supervisor(supervisor_id=supervisor, cell_id=cell.id,
                                               effective_from=dt.date(year, 1, 2), by=BY)
                self.supervised_from[str(cell.id)] = dt.date(year, 1, 2)
        changes: list[tuple[dt.date, int, str, Any]] = []  # (day, order, command, action)

        def on(day: dt.date, command: str, action: Any) -> None:
            changes.append((day, len(changes), command, action))

        def confirm(member: uuid.UUID, day: dt.date) -> None:
            self.members.confirm_member(member_id=member, official_since=day, by=BY)
            facts[str(member)].official_since = day

        def remove(member: uuid.UUID, day: dt.date) -> None:
            self.members.remove_member(member_id=member, reason="moved_away", note="Chuyển nơi cư trú",
                                       effective_from=day, by=BY)
            facts[str(member)].removed_on = day

        def merge(source: Cell, target: Cell) -> None:
            self.members.merge_units(source_ids=[source.id], target_id=target.id, effective_from=merge_day, by=BY)
            for member in facts.values():  # every member of the source cell moves to the target (officially)
                if member.cell_id == str(source.id) and (member.removed_on is None or member.removed_on > merge_day):
                    member.cell_id = str(target.id)
            self.expected.cells[str(source.id)].ends = merge_day

        for day, member in probationers:
            on(day, "confirm_member", lambda member=member, day=day: confirm(member, day))
        confirmed = {m for _, m in probationers}
        free = [(c, m) for c in cells if c.id not in untouchable for m in c.members[1:]
                if m not in self.supervisors and m not in confirmed]
        for cell, member in rng.sample(free, len(free) // 25):  # 4%: one change each in the year
            day = dt.date(year, 1, 10) + dt.timedelta(days=rng.randrange(0, 320))
            r = rng.random()
            if r < 0.4:
                on(day, "exempt_member", lambda member=member, day=day: self.members.exempt_member(
                    member_id=member, reason="age", note="Đảng viên cao tuổi, sức khỏe yếu", effective_from=day,
                    by=BY))
            elif r < 0.6:
                hosts = [c for c in cells if c.org == cell.org and c.id not in untouchable and c is not cell]
                if hosts:
                    back = day + dt.timedelta(days=rng.choice([61, 92, 120]))
                    on(day, "transfer_member", lambda member=member, day=day, host=rng.choice(hosts).id, back=back:
                       self.members.transfer_member(member_id=member, to_cell_id=host, kind="temporary",
                                                    effective_from=day, until=back, by=BY))
            else:
                on(day, "remove_member", lambda member=member, day=day: remove(member, day))
        for cell in rng.sample([c for c in cells if c.id not in untouchable], len(cells) // 8):
            day = dt.date(year, 2, 1) + dt.timedelta(days=rng.randrange(0, 300))
            on(day, "admit_member", lambda cell=cell, day=day: self.admit(cell, day, None))
        for source, target in merges:
            source.ends = merge_day
            on(merge_day, "merge_units", lambda source=source, target=target: merge(source, target))
        for _, _, command, action in sorted(changes, key=lambda c: (c[0], c[1])):
            if command != "admit_member":  # counted in admit()
                self.tally.commands[command] += 1
            action()

    # ---- the meetings ------------------------------------------------------------------------------------

    def hold(self, cell: Cell, kind: str, day: dt.date, previous: str | None) -> str | None:
        """One meeting in one transaction, then a vote, a review and closing as separate commands; return
        the meeting's adopted resolution to review next time (or None)."""
        rng = self.rng
        attends = BLOCKS[cell.block][4]
        members = sorted(self.rosters.roster_on(str(cell.id), day), key=lambda m: self.order[m.member_id])
        present: list[str] = []
        absent: list[dict[str, Any]] = []
        outcomes: list[tuple[str, str, str]] = []
        for m in members:
            if m.status == "temporarily_elsewhere":
                absent.append({"member_id": m.member_id, "excused": True, "reason": "sinh hoạt tạm thời nơi khác"})
                outcome = "absent_excused"
            elif m.status == "exempted" and rng.random() < 0.9:
                absent.append({"member_id": m.member_id, "excused": True, "reason": "được miễn sinh hoạt"})
                outcome = "absent_excused"
            elif rng.random() < attends:
                present.append(m.member_id)
                outcome = "present"
            elif rng.random() < 0.8:
                absent.append({"member_id": m.member_id, "excused": True,
                               "reason": rng.choice(["ốm", "đi công tác", "việc gia đình"])})
                outcome = "absent_excused"
            else:
                absent.append({"member_id": m.member_id, "excused": False})
                outcome = "absent_unexcused"
            outcomes.append((m.member_id, m.status, outcome))
        supervisors = sorted(self.rosters.supervisors_on(str(cell.id), day), key=lambda s: self.order[s.supervisor_id])
        guests = [{"guest_id": s.supervisor_id} for s in supervisors if rng.random() < 0.7]
        skip = rng.choice(AGENDA[1:-1])[0] if rng.random() < 0.1 else None
        steps = [{"step": s, "note": n} for s, n in AGENDA if s != skip] if kind != "thematic" else []
        speakers = [{"member_id": m, "gist": rng.choice(GISTS)} for m in rng.sample(present, min(3, len(present)))]
        month = day.strftime("%Y-%m")
        start, end = dt.time(14, 0), dt.time(16, 15) if kind == "combined" else dt.time(15, 45)
        dues = [{"member_id": m, "month": month, "paid": True} for m in present] if kind != "thematic" else []
        meeting = self.meetings.hold_meeting(
            roster=self.rosters, cell_id=cell.id, kind=kind, date=day, place="Hội trường",
            topic="Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh" if kind != "regular" else None,
            start_time=start, end_time=end, chair_id=None, minute_taker_id=None, present=present, absent=absent,
            guests=guests, agenda_steps=steps, speakers=speakers, dues=dues, by=BY)
        self.tally.commands["hold_meeting"] += 1
        # the figures, counted here from what was decided (design.md §2): the attendance base leaves out
        # members temporarily elsewhere and exempted members who are absent; the voting base is its official
        # members; able to decide when more than half of the voting base is present
        in_base = [(m, o) for m, (_, _, o) in zip(members, outcomes, strict=True)
                   if m.status != "temporarily_elsewhere" and (m.status != "exempted" or o == "present")]
        voting = [(m, o) for m, o in in_base if m.official]
        voters = [m.member_id for m, o in voting if o == "present"]
        facts = MeetingFacts(
            meeting_id=str(meeting.id), cell_id=str(cell.id), kind=kind, date=day,
            minutes=(end.hour * 60 + end.minute) - (start.hour * 60 + start.minute), present=len(present),
            base=len(in_base), voting_base=len(voting), voters_present=len(voters), speakers=len(speakers),
            steps=frozenset(s["step"] for s in steps),
            supervised=str(cell.id) in self.supervised_from and self.supervised_from[str(cell.id)] <= day,
            supervisor_present=bool(guests))
        self.expected.meeting(facts, outcomes)
        for d in dues:
            self.expected.dues[(d["member_id"], month)] = (str(cell.id), True)
        if kind == "thematic":
            return previous
        if previous is not None and rng.random() < 0.8:
            self.tally.commands["review"] += 1
            self.meetings.review(meeting.id, resolution_id=uuid.UUID(previous), by=BY, note="Đánh giá việc thực hiện",
                                 outcome=rng.choice(["implemented", "implemented", "partly", "not_implemented"]))
            self.expected.review(previous, day)
        resolution = None
        if voters and rng.random() < 0.6:
            self.tally.commands["vote"] += 1
            voted = self.meetings.vote(meeting.id, text=rng.choice(RESOLUTIONS), kind="ordinary",
                                       votes_for=len(voters), votes_against=0, abstentions=0, voters=voters, by=BY)
            passed = len(voters) * 2 > len(voting)  # an ordinary resolution: more than half of the voting base
            resolution = str(voted.resolutions[-1]["resolution_id"])
            self.expected.resolutions[resolution] = ResolutionFacts(str(cell.id), day, passed)
            if not passed:
                resolution = None  # only an adopted resolution is reviewed
        if skip is None and rng.random() < 0.7:
            self.tally.commands["close_meeting"] += 1
            self.meetings.close_meeting(meeting.id, by=BY)
        return resolution

    def hold_the_year(self) -> None:
        rng, year = self.rng, self.year
        for cell in self.cells:
            misses = BLOCKS[cell.block][5]
            previous: str | None = None
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

    def expected_json(self) -> dict[str, Any]:
        blocks = {b: (lambda c, b=b: c.block == b) for b in BLOCKS}
        districts = {code: (lambda c, code=code: c.district == code) for code in self.districts}
        return {"year": self.year, "report_date": self.today.isoformat(),
                **self.expected.as_json({"by_block": blocks, "by_district": districts})}
