"""Property test: random sequences of valid and invalid commands never break the register's invariants.

After every step: a refused command recorded nothing; each member has at most one home cell (and at most one
host cell) on any day; the tree has no cycle on any day; no member is on the roster of a cell that does not
exist on that day; and each cell's roster as of a day equals a plain replay of the published events dated up
to that day (an independent computation, not the read model's SQL).
"""

import datetime as dt
import shutil
import tempfile
import uuid
from collections import defaultdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from services.members.application import MembersApplication
from services.members.integration import translate
from shared.config import StoreSettings
from shared.errors import DomainError
from shared.relay import EnvelopeReader
from shared.stores import TrackedStore

TODAY = dt.date(2026, 11, 23)
START = dt.date(2020, 1, 1)
days = st.integers(min_value=0, max_value=80).map(lambda k: START + dt.timedelta(days=30 * k))
picks = st.integers(min_value=0, max_value=10_000)


def replay_rosters(envelopes, day):
    """The rosters on `day` from the published events dated up to `day`, replayed in log order."""
    iso = day.isoformat()
    home, official, exempted, away, removed = {}, set(), set(), {}, set()
    for env in envelopes:
        p, t = env.payload, env.type
        when = p.get("effective_from") or p.get("official_since") if t != "MemberAdmitted" else p["admitted_on"]
        if when is None or when > iso:
            continue
        if t == "MemberAdmitted":
            home[p["member_id"]] = p["cell_id"]
            if p["official_since"] and p["official_since"] <= iso:
                official.add(p["member_id"])
        elif t == "MemberOfficialized":
            official.add(p["member_id"])
        elif t == "MemberTransferred" and p["kind"] == "official":
            home[p["member_id"]] = p["to_cell_id"]
        elif t == "MemberTransferred":
            if p["until"] > iso:
                away[p["member_id"]] = p["to_cell_id"]
        elif t == "MemberTemporaryTransferEnded":
            away.pop(p["member_id"], None)
        elif t == "MemberExempted":
            exempted.add(p["member_id"])
        elif t == "MemberExemptionLifted":
            exempted.discard(p["member_id"])
        elif t == "MemberRemoved":
            removed.add(p["member_id"])
    rosters = defaultdict(dict)
    for m, cell in home.items():
        if m in removed:
            continue
        if m in away:
            rosters[cell][m] = "temporarily_elsewhere"
            rosters[away[m]][m] = "temporary"
        elif m in exempted:
            rosters[cell][m] = "exempted"
        else:
            rosters[cell][m] = "official" if m in official else "probationary"
    return rosters


class Register(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="chibo-members-")
        self.app = MembersApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, today=lambda: TODAY,
                                      views_store=TrackedStore(StoreSettings(kind="sqlite", data_dir=self.dir),
                                                               "members", "views"))
        self.units: list[uuid.UUID] = []
        self.wards: list[uuid.UUID] = []
        self.cells: list[uuid.UUID] = []
        self.members: list[uuid.UUID] = []
        self.n = 0
        self.refused = 0

    def teardown(self):
        self.app.close()
        self.app._views.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def attempt(self, command, **kwargs):
        """Run a command; a refusal must leave the log as it was."""
        before = self.app.recorder.max_notification_id()
        try:
            return command(by="prop", **kwargs)
        except DomainError:
            self.refused += 1
            assert self.app.recorder.max_notification_id() == before
            return None

    @staticmethod
    def pick(items, i):
        return items[i % len(items)] if items else uuid.uuid4()  # an unknown id when there is none: 404

    @initialize(cells=st.integers(2, 5), members=st.integers(0, 8))
    def a_city_with_wards_and_cells(self, cells, members):
        """Start from a city, two wards, a few cells and members: most random commands have something to act on."""
        self.city = self.app.create_unit(kind="city", name="HN", code="HN", parent_id=None, block=None,
                                         effective_from=START, by="prop").id
        self.units.append(self.city)
        for _ in range(2):
            self.create_ward(START, False)
        for i in range(cells):
            self.create_cell(START, i)
        for i in range(members):
            self.admit(START + dt.timedelta(days=30 * (i % 12)), i, i % 2 == 0)

    # --- the tree ---------------------------------------------------------------------------------------

    @rule(day=days, root=st.booleans())
    def create_ward(self, day, root):
        self.n += 1
        parent_id = None if root else self.city
        unit = self.attempt(self.app.create_unit, kind="ward", name=f"W{self.n}", code=f"W{self.n}",
                            parent_id=parent_id, block=None, effective_from=day)
        if unit is not None:
            self.units.append(unit.id)
            self.wards.append(unit.id)

    @rule(day=days, parent=picks)
    def create_cell(self, day, parent):
        self.n += 1
        unit = self.attempt(self.app.create_unit, kind="cell", name=f"C{self.n}", code=f"C{self.n}",
                            parent_id=self.pick(self.wards, parent), block="residential", effective_from=day)
        if unit is not None:
            self.units.append(unit.id)
            self.cells.append(unit.id)

    @rule(day=days, unit=picks, parent=picks)
    def move(self, day, unit, parent):
        self.attempt(self.app.move_unit, unit_id=self.pick(self.units, unit),
                     new_parent_id=self.pick([self.city, *self.wards], parent), effective_from=day)

    @rule(day=days, sources=st.lists(picks, min_size=1, max_size=3), into=picks, wards=st.booleans())
    def merge(self, day, sources, into, wards):
        pool = self.wards if wards else self.cells
        self.attempt(self.app.merge_units, source_ids=[self.pick(pool, s) for s in sources],
                     target_id=self.pick(pool, into), effective_from=day)

    @rule(day=days, unit=picks)
    def dissolve(self, day, unit):
        self.attempt(self.app.dissolve_unit, unit_id=self.pick(self.units, unit), reason="", effective_from=day)

    # --- the register -----------------------------------------------------------------------------------

    @rule(day=days, cell=picks, official=st.booleans())
    def admit(self, day, cell, official):
        self.n += 1
        member = self.attempt(self.app.admit_member, code=f"M{self.n}", full_name=f"M {self.n}",
                              cell_id=self.pick(self.cells, cell), admitted_on=day,
                              status="official" if official else "probationary",
                              official_since=day + dt.timedelta(days=400) if official else None)
        if member is not None:
            self.members.append(member.id)

    @rule(day=days, member=picks, override=st.booleans())
    def confirm(self, day, member, override):
        self.attempt(self.app.confirm_member, member_id=self.pick(self.members, member), official_since=day,
                     override_reason="early" if override else None)

    @rule(day=days, member=picks)
    def exempt(self, day, member):
        self.attempt(self.app.exempt_member, member_id=self.pick(self.members, member), reason="health", note="",
                     effective_from=day)

    @rule(day=days, member=picks, months=st.integers(0, 12))
    def lift(self, day, member, months):
        exempted = [m for m in map(self.app.get_or_none, self.members) if m.exemption is not None]
        member_id = self.pick([m.id for m in exempted] or self.members, member)
        if exempted:  # mostly a valid date, sometimes not
            day = self.app.get_or_none(member_id).exemption["since"] + dt.timedelta(days=30 * months - 15)
        self.attempt(self.app.lift_exemption, member_id=member_id, effective_from=day)

    @rule(day=days, member=picks, cell=picks, temporary=st.booleans(), months=st.integers(0, 6))
    def transfer(self, day, member, cell, temporary, months):
        self.attempt(self.app.transfer_member, member_id=self.pick(self.members, member),
                     to_cell_id=self.pick(self.cells, cell), kind="temporary" if temporary else "official",
                     effective_from=day, until=day + dt.timedelta(days=30 * months) if temporary else None)

    @rule(member=picks, months=st.integers(0, 6))
    def end_temporary_transfer(self, member, months):
        away = [m for m in map(self.app.get_or_none, self.members) if m.temporaries]
        chosen = self.pick(away or [self.app.get_or_none(i) for i in self.members], member) if self.members else None
        if chosen is None:
            return
        day = (chosen.temporaries[-1]["from"] if chosen.temporaries else START) + dt.timedelta(days=30 * months)
        self.attempt(self.app.end_temporary_transfer, member_id=chosen.id, effective_from=day)

    @rule(day=days, member=picks)
    def remove(self, day, member):
        self.attempt(self.app.remove_member, member_id=self.pick(self.members, member), reason="struck_off",
                     note="", effective_from=day)

    # --- invariants -------------------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self):
        views = self.app.views  # caught up
        envelopes = EnvelopeReader("members", self.app, translate).page(0, 100_000)
        dated = sorted({e.payload.get("effective_from") or e.payload.get("admitted_on") for e in envelopes} - {None})
        sample = [dt.date.fromisoformat(d) for d in dated[:: max(1, len(dated) // 4)]]
        units = views.units()
        for day in sample + [d - dt.timedelta(days=1) for d in sample[:2]]:
            iso = day.isoformat()
            for u in units.values():  # no cycle: every chain of parents ends
                seen, current = set(), u
                while current is not None:
                    assert current.id not in seen, f"cycle through {current.code} on {day}"
                    seen.add(current.id)
                    parent = current.parent_on(iso)
                    current = units.get(parent) if parent else None
            expected = replay_rosters(envelopes, day)
            homes, hosts = defaultdict(int), defaultdict(int)
            for cell_id in self.cells:
                roster = {e["member_id"]: e["status"] for e in views.roster(str(cell_id), day)}
                assert roster == expected.get(str(cell_id), {}), f"roster of {cell_id} on {day}"
                if roster:
                    assert units[str(cell_id)].exists_on(iso), f"members in a cell that does not exist on {day}"
                for m, status in roster.items():
                    (hosts if status == "temporary" else homes)[m] += 1
            assert all(n == 1 for n in homes.values()) and all(n == 1 for n in hosts.values())


TestRegister = Register.TestCase
TestRegister.settings = settings(max_examples=30, stateful_step_count=30, deadline=None,
                                 suppress_health_check=[HealthCheck.too_slow])
