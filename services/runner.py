"""Composition: which service classes exist, and how to run them embedded (one process) or one each.

The embedded run is nameko's ServiceRunner with every service, kombu's in-memory transport, SQLite files
and one HTTP port; the distributed run starts the same classes one per process (`chibo run SERVICE`)
against RabbitMQ and PostgreSQL, with each relay as its own process (`chibo relay SOURCE`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from shared import topology
from shared.config import load_config, service_config_path

SERVICE_NAMES = ("members", "meetings", "reporting")
WRITERS = ("members", "meetings")  # services with an event store, a relay and a notification API


def service_class(name: str) -> type:
    if name == "members":
        from services.members.service import MembersService

        return MembersService
    if name == "meetings":
        from services.meetings.service import MeetingsService

        return MeetingsService
    if name == "reporting":
        from services.reporting.service import ReportingService

        return ReportingService
    raise KeyError(f"unknown service {name!r}; choose from {', '.join(SERVICE_NAMES)}")


def service_config(name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return load_config(service_config_path(name), env)


def embedded_config(data_dir: str | Path = "var/embedded", host: str = "127.0.0.1", port: int = 8000) -> dict[str, Any]:
    base = f"http://{host}:{port}"
    return {
        "AMQP_URI": "memory://chibo/",
        "TRANSPORT_OPTIONS": {"polling_interval": 0.01},
        "WEB_SERVER_ADDRESS": f"{host}:{port}",
        "max_workers": 10,
        "CHIBO": {
            "store": "sqlite",
            "data_dir": str(data_dir),
            "relay": "embedded",
            "poll_interval": 0.05,
            "sources": {s: f"{base}/{s}" for s in WRITERS},
        },
    }


class EmbeddedPlatform:
    """All three services in this process. Call `eventlet.monkey_patch()` before importing chibo code."""

    def __init__(self, config: dict[str, Any]):
        from nameko.runners import ServiceRunner

        self.config = copy.deepcopy(config)
        self.runner = ServiceRunner(self.config)
        for name in SERVICE_NAMES:
            self.runner.add_service(service_class(name))

    @property
    def base_url(self) -> str:
        host, port = self.config["WEB_SERVER_ADDRESS"].rsplit(":", 1)
        return f"http://{host}:{port}"

    def start(self) -> EmbeddedPlatform:
        # Queues must exist before the relays publish: the in-memory transport drops unroutable messages.
        topology.declare_all(self.config["AMQP_URI"])
        self.runner.start()
        return self

    def stop(self) -> None:
        self.runner.stop()


def writer_parts(source: str) -> tuple[type, Any]:
    """(application class, translator) of a writing service: what its relay needs."""
    if source == "members":
        from services.members.application import MembersApplication
        from services.members.integration import translate

        return MembersApplication, translate
    if source == "meetings":
        from services.meetings.application import MeetingsApplication
        from services.meetings.integration import translate as translate_meetings

        return MeetingsApplication, translate_meetings
    raise KeyError(f"{source!r} has no event store to relay; choose from {', '.join(WRITERS)}")
