"""Readiness: what a service's health answer says of its broker and its database.

`ready` is true when the database answers, the broker accepts a connection and every tracked consumer of the
service is consuming (connected, its queue subscribed) and no further behind than `CHIBO.ready_max_lag`
seconds (CHIBO_READY_MAX_LAG, 60 by default: the lag alert's threshold). Each service answers on its operator
port:

* `/<service>/live`: 200 while the process serves (liveness: restart it when this fails);
* `/<service>/ready`: 200 when ready, 503 when not, with the report (readiness: route no traffic to it, and
  let dependants wait); `chibo` services reconnect by themselves, nobody needs to restart them;
* `/<service>/health`: the same report, always 200 (for people and dashboards).

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
        from shared.config import settings_from

        self.amqp_uri = self.container.config["AMQP_URI"]
        self.max_lag = settings_from(self.container.config).ready_max_lag
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

    def _tracked(self) -> list[Any]:
        from shared.nameko_ext import TrackedConsumer

        return [ep for ep in self.container.entrypoints if isinstance(ep, TrackedConsumer)]

    def lags(self) -> dict[str, float]:
        """Each tracked consumer's lag in seconds (TrackedConsumer.lag_seconds)."""
        return {ep.queue.name: round(ep.lag_seconds(), 3) for ep in self._tracked()}

    def consumers(self, lags: dict[str, float] | None = None) -> dict[str, str]:
        """Each tracked consumer's queue: "consuming", "waiting for the broker", or "lagging: …"."""
        lags = self.lags() if lags is None else lags
        states = {}
        for ep in self._tracked():
            name = ep.queue.name
            if not getattr(ep.queue_consumer, "consuming", False):
                states[name] = "waiting for the broker"
            elif lags.get(name, 0.0) > self.max_lag:
                states[name] = f"lagging: {lags[name]:.0f} s behind (limit {self.max_lag:g} s)"
            else:
                states[name] = "consuming"
        return states

    def report(self, database: Callable[[], Any]) -> dict[str, Any]:
        """{"ready", "broker", "database", "consumers", "lag_seconds"}; `database()` runs a query (raises when
        it cannot)."""
        try:
            database()
            db = "ok"
        except Exception as exc:
            db = _reason(exc)
        broker = self.broker()
        lags = self.lags()
        consumers = self.consumers(lags)
        ready = db == "ok" and broker == "ok" and all(v == "consuming" for v in consumers.values())
        return {"ready": ready, "broker": broker, "database": db, "consumers": consumers, "lag_seconds": lags}


def ready_response(report: dict[str, Any]) -> Any:
    """/ready: the report, 200 when ready and 503 when not."""
    from shared.web import json_response

    return json_response(report, status=200 if report.get("ready") else 503)


def live_response(service: str) -> Any:
    """/live: this process answers."""
    from shared.web import json_response

    return json_response({"service": service, "alive": True})
