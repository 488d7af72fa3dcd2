"""Readiness: what a service's health answer says of its broker and its database.

`ready` is true when the database answers, the broker accepts a connection and every tracked consumer of the
service is consuming (connected, its queue subscribed). The health route (operator port) stays 200 while the
process lives, so an orchestrator can tell "alive but waiting for the broker" (ready false, with the reason)
from "dead"; `chibo` services reconnect by themselves, nobody needs to restart them.

The broker probe opens a connection (2 s timeout) and is cached for half a second: the tests and the
orchestrator may ask many times a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kombu import Connection
from nameko.extensions import DependencyProvider

PROBE_TTL = 0.5


def _reason(exc: BaseException) -> str:
    return f"down: {type(exc).__name__}: {exc}"[:300]


class Readiness(DependencyProvider):
    def setup(self) -> None:
        self.amqp_uri = self.container.config["AMQP_URI"]
        self._broker: tuple[float, str] = (0.0, "unknown")

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self

    def broker(self) -> str:
        at, state = self._broker
        if time.monotonic() - at < PROBE_TTL:
            return state
        if self.amqp_uri.startswith("memory://"):
            state = "ok"
        else:
            try:
                with Connection(self.amqp_uri, connect_timeout=2) as conn:
                    conn.connect()
                state = "ok"
            except Exception as exc:
                state = _reason(exc)
        self._broker = (time.monotonic(), state)
        return state

    def consumers(self) -> dict[str, str]:
        """Each tracked consumer's queue: "consuming", or "waiting for the broker"."""
        from shared.nameko_ext import TrackedConsumer

        return {ep.queue.name: ("consuming" if getattr(ep.queue_consumer, "consuming", False)
                                else "waiting for the broker")
                for ep in self.container.entrypoints if isinstance(ep, TrackedConsumer)}

    def report(self, database: Callable[[], Any]) -> dict[str, Any]:
        """{"ready", "broker", "database", "consumers"}; `database()` runs a query (raises when it cannot)."""
        try:
            database()
            db = "ok"
        except Exception as exc:
            db = _reason(exc)
        broker = self.broker()
        consumers = self.consumers()
        ready = db == "ok" and broker == "ok" and all(v == "consuming" for v in consumers.values())
        return {"ready": ready, "broker": broker, "database": db, "consumers": consumers}
