"""shared.cooperative: long loops pause every few hundred items once a pause is installed (serving processes:
eventlet's sleep(0)), and a roll-up holds the cyclic garbage collector, nested or concurrent holders sharing
one hold."""

from __future__ import annotations

import gc

from shared import cooperative


def test_paced_gives_every_item_in_order_and_pauses_only_once_installed(monkeypatch):
    pauses: list[int] = []
    items = list(range(1234))
    assert list(cooperative.paced(items, every=100)) == items and pauses == []  # nothing installed: no pause
    monkeypatch.setattr(cooperative, "_pause", lambda: pauses.append(len(seen)))
    seen: list[int] = []
    for item in cooperative.paced(items, every=100):
        seen.append(item)
    assert seen == items
    assert pauses == [100 * k for k in range(1, 13)]  # after each hundredth item, the last 34 without one


def test_install_sets_how_the_process_pauses(monkeypatch):
    monkeypatch.setattr(cooperative, "_pause", cooperative._no_pause)
    calls: list[str] = []
    cooperative.install(lambda: calls.append("pause"))
    assert len(list(cooperative.paced(range(cooperative.EVERY * 2)))) == cooperative.EVERY * 2
    assert calls == ["pause", "pause"]


def test_the_collector_is_held_until_the_last_holder_is_done():
    assert gc.isenabled()
    with cooperative.collector_held():
        assert not gc.isenabled()
        with cooperative.collector_held():  # a second computation meanwhile
            assert not gc.isenabled()
        assert not gc.isenabled()  # the first is still running
    assert gc.isenabled()
    try:
        with cooperative.collector_held():
            raise ValueError("a failed roll-up")
    except ValueError:
        pass
    assert gc.isenabled()


def test_overlapping_holders_still_collect_once_the_hold_is_too_long(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(cooperative.time, "monotonic", lambda: now[0])
    collected: list[int] = []
    monkeypatch.setattr(cooperative.gc, "collect", lambda: collected.append(1) or 0)
    with cooperative.collector_held():
        with cooperative.collector_held():
            now[0] += 5
        assert collected == []  # a short overlap: nothing
        with cooperative.collector_held():
            now[0] += cooperative.LONGEST_HOLD
        assert collected == [1] and not gc.isenabled()  # held 35 s: one collection, still held
        with cooperative.collector_held():
            now[0] += 1
        assert collected == [1]  # the hold's clock started again at that collection
    assert gc.isenabled()
