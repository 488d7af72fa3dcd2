"""tree._on, the value of a unit's spells on a day (its parent, its name), without building a list of the
spells' days per call (issue 10: a city's cold roll-up asked it about a million times): the same value as the
rule it replaced, for any spells and day."""

from __future__ import annotations

import bisect
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.compliance.tree import _on


def reference(spells: list[tuple[dt.date, str | None]], day: dt.date) -> str | None:
    i = bisect.bisect_right([d for d, _ in spells], day)
    return spells[max(i - 1, 0)][1]


days = st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 31))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(days, st.sampled_from(["a", "b", "c", None])), min_size=1, max_size=5,
                unique_by=lambda s: s[0]), days)
def test_the_value_on_a_day_is_that_of_the_latest_spell_begun_by_then_or_the_first(spells, day):
    spells = sorted(spells, key=lambda s: s[0])
    assert _on(spells, day) == reference(spells, day)


def test_one_spell_holds_on_any_day_and_a_later_one_from_its_first_day():
    first, moved = dt.date(2025, 1, 1), dt.date(2025, 7, 1)
    assert _on([(first, "w1")], dt.date(2020, 1, 1)) == "w1"
    spells = [(first, "w1"), (moved, "w2")]
    assert [_on(spells, d) for d in (dt.date(2024, 12, 31), dt.date(2025, 6, 30), moved)] == ["w1", "w1", "w2"]
