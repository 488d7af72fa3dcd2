"""The organisation tree as reporting knows it, by date: under which units does a cell's month count?

Two ways to roll up (design.md §2), the caller picks:
* `period`: the tree as it stood then. A cell's month counts under the units that were its ancestors on the
  month's last day (or on the cell's last day, when it ended during the month). A cell that moved in July
  counts under its old ward until June and under the new one from July.
* `today`: the tree of today. A cell's whole history counts under its place in today's tree; a cell that was
  merged counts under the cell it was merged into (its successor), and a dissolved one under its last parent
  (or that parent's successor). History still belongs to the old cell: only the path above it changes.
Either way a cell-month has one path, so nothing is counted twice.
"""

from __future__ import annotations

import bisect
import datetime as dt
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.cooperative import paced
from shared.stores import Sql

TreeMode = Literal["period", "today"]


@dataclass
class Unit:
    unit_id: str
    kind: str
    code: str
    block: str | None
    created_on: dt.date
    ended_on: dt.date | None
    end_kind: str | None
    merged_into: str | None
    names: list[tuple[dt.date, str]] = field(default_factory=list)
    parents: list[tuple[dt.date, str | None]] = field(default_factory=list)

    def exists_on(self, day: dt.date) -> bool:
        return self.created_on <= day and (self.ended_on is None or day < self.ended_on)

    def last_day(self, today: dt.date) -> dt.date:
        return today if self.ended_on is None else min(today, self.ended_on - dt.timedelta(days=1))

    def name_on(self, day: dt.date) -> str:
        return _on(self.names, day) or self.names[0][1]

    def parent_on(self, day: dt.date) -> str | None:
        return _on(self.parents, day) if self.parents else None


def _on(spells: list[tuple[dt.date, str | None]], day: dt.date) -> str | None:
    """The value of the latest spell starting on or before `day` (the first one before any)."""
    if len(spells) == 1:  # most units: one spell (a cell that never moved)
        return spells[0][1]
    i = bisect.bisect_right(spells, day, key=_start)
    return spells[max(i - 1, 0)][1]


def _start(spell: tuple[dt.date, str | None]) -> dt.date:
    return spell[0]


# store -> (members position, its tree); weak, so a closed store's tree goes with it
_TREES: weakref.WeakKeyDictionary[Any, tuple[int, Tree]] = weakref.WeakKeyDictionary()


class Tree:
    def __init__(self, units: dict[str, Unit]):
        self.units = units
        self._paths: dict[tuple[str, dt.date, str], tuple[str, ...]] = {}
        self._below: dict[str, set[str]] | None = None
        self._memos: dict[Any, Any] = {}

    MEMOS = 32  # what callers keep with a tree (tally.py: per period, mode and report date)

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """What a caller works out once per tree under `key` (the tree changes with every members event, and
        its memos go with it); the oldest of more than MEMOS is dropped."""
        if key not in self._memos:
            if len(self._memos) >= self.MEMOS:
                del self._memos[next(iter(self._memos))]
            self._memos[key] = make()
        return self._memos[key]

    @classmethod
    def cached(cls, sql: Sql) -> Tree:
        """The tree `sql`'s store holds, loaded once per members position and kept with the paths it worked
        out: only members events change the tree, and a dashboard asks for the paths of the same cells on the
        same month-ends again and again. The position is read in `sql`'s own transaction, so the tree is the
        one that transaction sees. A bare cursor (no store) loads it anew."""
        store = getattr(sql, "store", None)  # a wrapper of a cursor may not say
        if store is None:
            return cls.load(sql)
        position = store.position_in(sql, "members")
        held = _TREES.get(store)
        if held is None or held[0] != position:
            held = (position, cls.load(sql))
            _TREES[store] = held
        return held[1]

    @classmethod
    def load(cls, sql: Sql) -> Tree:
        units = {
            r["unit_id"]: Unit(r["unit_id"], r["kind"], r["code"], r["block"], dt.date.fromisoformat(r["created_on"]),
                               dt.date.fromisoformat(r["ended_on"]) if r["ended_on"] else None, r["end_kind"],
                               r["merged_into"])
            for r in paced(sql.execute("SELECT * FROM units").fetchall())
        }
        names = sql.execute("SELECT unit_id, valid_from, name FROM unit_names ORDER BY unit_id, valid_from")
        for r in paced(names.fetchall()):
            if r["unit_id"] in units:
                units[r["unit_id"]].names.append((dt.date.fromisoformat(r["valid_from"]), r["name"]))
        for r in paced(sql.execute(
                "SELECT unit_id, valid_from, parent_id FROM unit_parents ORDER BY unit_id, valid_from").fetchall()):
            if r["unit_id"] in units:
                units[r["unit_id"]].parents.append((dt.date.fromisoformat(r["valid_from"]), r["parent_id"]))
        return cls(units)

    def cells(self) -> list[Unit]:
        return [u for u in self.units.values() if u.kind == "cell"]

    def cells_ever_under(self, unit_id: str | None) -> set[str] | None:
        """Every cell whose facts can count under `unit_id`, in either tree mode, on any date (None: the whole
        city, no limit). A superset: the descendants of `unit_id` over every parent it ever had and every merge
        (a merged unit's history counts under its successor in the `today` tree). Paths (`path`) only ever
        follow those links, so a cell outside this set never has `unit_id` on a path; the caller still
        filters facts by their exact path."""
        if unit_id is None:
            return None
        if self._below is None:
            below: dict[str, set[str]] = {}
            for u in self.units.values():
                for _, parent in u.parents:
                    if parent is not None:
                        below.setdefault(parent, set()).add(u.unit_id)
                if u.merged_into:
                    below.setdefault(u.merged_into, set()).add(u.unit_id)
            self._below = below
        seen, todo = {unit_id}, [unit_id]
        while todo:
            for child in self._below.get(todo.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return {u for u in seen if u in self.units and self.units[u].kind == "cell"}

    def successor(self, unit_id: str) -> str:
        """The unit that carries `unit_id` on today: itself, or the unit it was (repeatedly) merged into."""
        seen = {unit_id}
        while (u := self.units.get(unit_id)) is not None and u.merged_into and u.merged_into not in seen:
            unit_id = u.merged_into
            seen.add(unit_id)
        return unit_id

    def path_on(self, unit_id: str, day: dt.date) -> tuple[str, ...]:
        """`unit_id` and its ancestors on `day`, from the unit up to the root."""
        key = (unit_id, day, "period")
        if key not in self._paths:
            path, seen = [unit_id], {unit_id}
            parent = self.units[unit_id].parent_on(day) if unit_id in self.units else None
            while parent is not None and parent not in seen and parent in self.units:
                path.append(parent)
                seen.add(parent)
                parent = self.units[parent].parent_on(day)
            self._paths[key] = tuple(path)
        return self._paths[key]

    def path_today(self, unit_id: str, today: dt.date) -> tuple[str, ...]:
        """`unit_id`, then its place in today's tree: each ancestor taken on its own last day, through
        successors of merged units."""
        key = (unit_id, today, "today")
        if key not in self._paths:
            path, seen = [unit_id], set()
            current: str | None = self.successor(unit_id)
            while current is not None and current not in seen and current in self.units:
                if current != unit_id:
                    path.append(current)
                seen.add(current)
                unit = self.units[current]
                parent = unit.parent_on(unit.last_day(today))
                current = self.successor(parent) if parent is not None else None
            self._paths[key] = tuple(path)
        return self._paths[key]

    def path(self, unit_id: str, day: dt.date, mode: TreeMode, today: dt.date) -> tuple[str, ...]:
        """Where a fact of `unit_id` dated `day` counts: the units it rolls up into."""
        if mode == "today":
            return self.path_today(unit_id, today)
        unit = self.units.get(unit_id)
        if unit is not None and unit.ended_on is not None and day >= unit.ended_on:
            day = unit.ended_on - dt.timedelta(days=1)
        return self.path_on(unit_id, day)

    def name(self, unit_id: str, day: dt.date) -> str:
        unit = self.units.get(unit_id)
        return unit.name_on(day) if unit is not None and unit.names else unit_id
