"""Tree.cached (issue 10, queries): one tree per store and members position, read in the caller's transaction."""

from services.reporting.compliance import schema
from services.reporting.compliance.tree import Tree
from shared.stores import TrackedStore

UNIT = "INSERT INTO units (unit_id, kind, code, block, created_on) VALUES (?, ?, ?, ?, '2025-01-01')"


def test_the_tree_is_loaded_again_only_when_the_members_position_moves(store_settings):
    store = TrackedStore(store_settings, "tree_cache")
    store.create_tables(schema.DDL)
    with store.tracked("members", 1) as sql:
        sql.execute(UNIT, ("w", "commune", "W", None))
    with store.read() as sql:
        first = Tree.cached(sql)
    with store.read() as sql:
        assert Tree.cached(sql) is first  # same position: the same tree, with the paths it worked out
    with store.tracked("meetings", 5) as sql:  # another source moves: the tree cannot have changed
        pass
    with store.read() as sql:
        assert Tree.cached(sql) is first
    with store.tracked("members", 2) as sql:
        sql.execute(UNIT, ("c", "cell", "C", "residential"))
    with store.read() as sql:
        second = Tree.cached(sql)
    assert second is not first and set(second.units) == {"w", "c"} and set(first.units) == {"w"}
    other = TrackedStore(store_settings, "tree_cache_other")  # another store at the same position: its own tree
    other.create_tables(schema.DDL)
    with other.tracked("members", 2) as sql:
        sql.execute(UNIT, ("x", "commune", "X", None))
    with other.read() as sql:
        assert set(Tree.cached(sql).units) == {"x"}
    other.close()
    store.close()
