"""Rate limits per credential: a token bucket for each token or API key, in the serving process.

A bucket holds up to `burst` requests and refills at `rate` per second; a request takes one or is refused
with the seconds until one is free (HTTP 429 with Retry-After). Limits are per process: behind N replicas a
credential gets N times the rate, which is what a per-replica guard against a runaway client needs (a shared
store such as Redis would be the next step if a city wants one global budget).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    rate: float  # requests per second, refilled continuously; 0 means no limit
    burst: int  # the bucket's size: how many requests may come at once


class RateLimiter:
    """Buckets by credential id. `max_keys` bounds memory: the longest-idle buckets are dropped first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str, limit: Limit) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next one would."""
        if limit.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - last) * limit.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / limit.rate
            self._buckets[key] = (tokens, now)  # re-inserted last: dict order is least recently used first
            if len(self._buckets) > self.max_keys:
                del self._buckets[next(iter(self._buckets))]
        return wait


def retry_after(wait: float) -> str:
    """The Retry-After header's whole seconds (at least 1)."""
    return str(max(1, math.ceil(wait)))
