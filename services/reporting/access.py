"""Where the things reporting answers about sit in the tree, so the web layer can check a caller's reach.

Framework-free: a unit, a cell, a meeting or a member to its path in today's tree (through the successors of
merged units), read from reporting's own store. A roll-up, drill-down, cell-month list, member-year list or
export is asked for one unit (`?unit=`); a caller whose reach is not the whole city gets their own unit when
they name none, and a 403 when they name a unit outside it. Everything such a query returns lies under that
unit, so no other ward's member reaches a ward user, not in a drill-down nor in an export.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from services.reporting.compliance.tree import Tree
from shared.auth import POLICY, Principal
from shared.stores import Sql


def scoped_args(caller: Principal, args: Mapping[str, str]) -> dict[str, str]:
    """The query's parameters, with `unit` set to the caller's own unit when the caller named none and may not
    see the whole city."""
    scoped = {k: args[k] for k in args}
    if not (scoped.get("unit") or "").strip() and not POLICY[caller.role].city_wide and caller.unit_id:
        scoped["unit"] = caller.unit_id
    return scoped


def unit_path(tree: Tree, unit_id: str | None, today: dt.date) -> list[str]:
    """The unit and its ancestors in today's tree; [] for no unit (the whole city) or one reporting lacks."""
    if unit_id is None or unit_id not in tree.units:
        return []
    return list(tree.path_today(unit_id, today))


def meeting_path(sql: Sql, tree: Tree, meeting_id: str, today: dt.date) -> list[str]:
    cell = sql.scalar("SELECT cell_id FROM meetings WHERE meeting_id = ?", (meeting_id,))
    return unit_path(tree, cell, today)


def member_path(sql: Sql, tree: Tree, member_id: str, today: dt.date) -> list[str]:
    """The member's latest home cell's path (a removed member stays under the cell they left)."""
    cell = sql.scalar("SELECT cell_id FROM member_cells WHERE member_id = ? ORDER BY valid_from DESC LIMIT 1",
                      (member_id,))
    return unit_path(tree, cell, today)
