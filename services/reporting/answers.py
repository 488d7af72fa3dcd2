"""Reporting's roll-up answers, kept per store position: one computation however many readers ask at once.

A roll-up is a function of the projection's tables, which are a function of the events applied (the tracked
positions of each source), of the report date, and of the request (path, language, the caller's role and
unit): the same key the ETag is made of (service.py). So an answer computed for a key stays right for as long
as the positions have not moved, and is never served once they have: a new event changes the key.

Twenty officials opening the same city dashboard therefore cost one roll-up, not twenty: the first computes it,
the others wait for that answer, and later readers get it from memory until an event arrives. A reader who
must wait is told so (`Pending`) and waits outside its database transaction: holding a pooled connection idle
for the length of a city's roll-up starved the pool (500s under 20 readers, BENCHMARKS.md).

Only roll-ups are kept: they carry figures and unit names, nobody's personal data, so an answer held here can
never outlive a person's erasure (names are opened from the key ring at answer time elsewhere). The caller's
access is checked on every request before the cache is consulted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from cachetools import LRUCache
from nameko.extensions import DependencyProvider

from shared import metrics

DEFAULT_SIZE = 128  # answers; a city roll-up is a few tens of KB
WAIT_SECONDS = 300.0  # longest wait for another reader's computation before computing again
T = TypeVar("T")


class Pending(Exception):
    """Another reader is computing this answer: wait for `done` (outside any transaction), then ask again."""

    def __init__(self, done: threading.Event):
        super().__init__("an answer for this key is being computed")
        self.done = done


class Answers:
    """Answers by key, least recently used dropped first; concurrent misses of one key share one computation.

    `threading` primitives are green under nameko (eventlet patches them), so a waiting request yields its
    greenthread to the one computing."""

    def __init__(self, service: str, size: int = DEFAULT_SIZE):
        self.service = service
        self._cache: LRUCache[str, Any] = LRUCache(maxsize=size)
        self._pending: dict[str, threading.Event] = {}
        self._computed = 0
        self._lock = threading.Lock()

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        """The answer for `key`: from memory, or computed now by `compute`. Raises `Pending` when another
        caller is computing it. A failed computation is not kept: the next caller computes again."""
        with self._lock:
            if key in self._cache:
                metrics.ANSWER_CACHE.labels(self.service, "hit").inc()
                return self._cache[key]
            if key in self._pending:
                raise Pending(self._pending[key])
            done = self._pending[key] = threading.Event()
        try:
            value = compute()
            with self._lock:
                self._cache[key] = value
                self._computed += 1
            metrics.ANSWER_CACHE.labels(self.service, "computed").inc()
            return value
        finally:
            with self._lock:
                del self._pending[key]
            done.set()

    @property
    def computed(self) -> int:
        """How many answers were computed (not served from memory or from another reader's computation)."""
        return self._computed

    def __len__(self) -> int:
        return len(self._cache)


def waiting(attempt: Callable[[], T]) -> T:
    """Run `attempt` again after each time it is told another caller is computing its answer (`Pending`). The
    service's attempt is one read of the store, so the wait holds no database connection and the pool serves
    the one computing."""
    while True:
        try:
            return attempt()
        except Pending as pending:
            pending.done.wait(WAIT_SECONDS)


class AnswerCache(DependencyProvider):
    """One `Answers` per service container, sized by `CHIBO.answer_cache_size` (0 turns the cache off)."""

    def setup(self) -> None:
        size = int((self.container.config.get("CHIBO") or {}).get("answer_cache_size", DEFAULT_SIZE))
        self.answers = Answers(self.container.service_name, size) if size > 0 else None

    def get_dependency(self, worker_ctx: Any) -> Answers | None:
        return self.answers
