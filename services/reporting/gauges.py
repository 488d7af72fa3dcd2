"""Reporting's city-wide compliance figures for the current year as Prometheus gauges, for the operators'
dashboard (deploy/grafana): recomputed in the background every `CHIBO.compliance_gauges_interval` seconds
(default 300; 0 turns it off), never at scrape time (a city's roll-up takes seconds)."""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider

from services.reporting.compliance import tally
from services.reporting.compliance.periods import parse_period
from services.reporting.queries import Queries
from shared import metrics
from shared.clock import vietnam_today
from shared.cooperative import collector_held

log = logging.getLogger(__name__)


def publish(figures: dict[str, Any]) -> None:
    """Set the gauges from a roll-up's figures: ratios as `chibo_compliance_rate`, plain numbers as counts."""
    for name, value in figures.items():
        if isinstance(value, dict) and value.get("rate") is not None:
            metrics.COMPLIANCE_RATE.labels(name).set(value["rate"])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            metrics.COMPLIANCE_COUNT.labels(name).set(value)


def city_figures(store: Any, period: str | None = None) -> dict[str, Any]:
    """The figures of `period` (default: this year) over every unit reporting knows."""
    today = vietnam_today()
    with store.read() as sql:
        q = Queries(sql, today)
        chosen = parse_period(period or str(today.year), today)
        with collector_held():
            return tally.figures(tally.collect(sql, q.tree, chosen, "period", today))


class ComplianceGauges(DependencyProvider):
    """Keeps the gauges current from the service's read models (`views_attr`)."""

    def __init__(self, views_attr: str = "views"):
        self.views_attr = views_attr
        self._gt = None

    def start(self) -> None:
        interval = float((self.container.config.get("CHIBO") or {}).get("compliance_gauges_interval", 300))
        if interval > 0:
            self._gt = self.container.spawn_managed_thread(lambda: self._run(interval),
                                                           identifier="compliance-gauges")

    def _run(self, interval: float) -> None:
        views = next(d for d in self.container.dependencies if getattr(d, "attr_name", None) == self.views_attr)
        while True:
            try:
                publish(city_figures(views.store))
            except Exception as exc:  # the store may be busy or not ready: the next round tries again
                log.info("compliance gauges not refreshed: %s", exc)
            eventlet.sleep(interval)

    def stop(self) -> None:
        if self._gt is not None:
            self._gt.kill()

    def kill(self) -> None:
        self.stop()
