"""Pauses in long pure-Python loops, so that one request's work does not hold a serving process's other requests.

The services run on eventlet (design.md §6): a greenthread gives the others their turn only when it waits
(a query, a socket). A city's roll-up is 1.7–3.4 s of Python between its queries, and in that time nothing
else of the process ran: a health check, a ward's kept dashboard, the broker's heartbeats (measured: the
longest stall 0.6–2.2 s, BENCHMARKS.md fix 24). Loops over a city's cells and tallies go through `paced`,
which pauses every few hundred items: a no-op, unless the serving process installed eventlet's `sleep(0)`
(shared/green.py `serve_green`). Domain code stays free of eventlet; only this module is told how to pause.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
EVERY = 500  # items between pauses: about a millisecond of a roll-up's Python


def _no_pause() -> None:
    return None


_pause: Callable[[], None] = _no_pause


def install(pause: Callable[[], None]) -> None:
    """How this process pauses (eventlet: `lambda: eventlet.sleep(0)`, which lets every ready greenthread run)."""
    global _pause
    _pause = pause


def paced(items: Iterable[T], every: int = EVERY) -> Iterator[T]:
    """`items`, pausing after each `every` of them."""
    if _pause is _no_pause:
        yield from items
        return
    for i, item in enumerate(items, 1):
        yield item
        if i % every == 0:
            _pause()


_collecting = threading.Lock()  # (green under eventlet) guards the count of computations that hold the collector
_holding = 0
_held_since = 0.0
LONGEST_HOLD = 30.0  # seconds: under overlapping computations, still a full collection this often


@contextmanager
def collector_held() -> Iterator[None]:
    """Hold CPython's cyclic garbage collector for the length of a computation. A roll-up allocates a few
    hundred thousand short-lived rows and tallies, which sets off full collections, and each full collection
    walks every object the process keeps (the tree, its kept paths, the cells' layouts: about a million at
    city scale): 60–260 ms each, several per city roll-up, and in one piece (measured, BENCHMARKS.md fix 24).
    What a roll-up makes is freed by reference counting; the collector runs again when the last computation
    holding it ends. Nested and concurrent holders share one hold; if they overlap for longer than
    LONGEST_HOLD, the holder that ends then collects once, so that a busy process still frees its cycles."""
    global _holding, _held_since
    with _collecting:
        _holding += 1
        if _holding == 1:
            gc.disable()
            _held_since = time.monotonic()
    try:
        yield
    finally:
        with _collecting:
            _holding -= 1
            if _holding == 0:
                gc.enable()
            elif time.monotonic() - _held_since > LONGEST_HOLD:
                gc.collect()
                _held_since = time.monotonic()
