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
from shared.config import StoreSettings, load_config, service_config_path, settings_from


def user_token(store: StoreSettings, auth: Any, user: str, role: str, unit_id: str | None,
               hours: float = 8.0) -> str:
    """A signed-in user's token (`chibo token issue` does the same), recorded in the auth store of `store`."""
    import datetime as dt

    from shared.auth import AuthStore, Role, issue_token

    auth_store = AuthStore(store)
    try:
        return issue_token(user, Role(role), unit_id, secret=auth.secret, issuer=auth.issuer, audience=auth.audience,
                           ttl=dt.timedelta(hours=hours), store=auth_store)
    finally:
        auth_store.close()


def machine_key(store: StoreSettings, name: str) -> str:
    """Create an API key with the machine role and all its scopes in the auth store of `store`; the key."""
    from shared.auth import POLICY, AuthStore, Role, create_api_key

    auth = AuthStore(store)
    try:
        return create_api_key(auth, name, POLICY[Role.SERVICE].actions, role=Role.SERVICE)[1]
    finally:
        auth.close()

SERVICE_NAMES = ("members", "meetings", "reporting")
WEB = "web"  # the web app (services/web): a client of the three APIs, run beside them
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
    if name == WEB:
        from services.web.service import WebService

        return WebService
    raise KeyError(f"unknown service {name!r}; choose from {', '.join((*SERVICE_NAMES, WEB))}")


def service_config(name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return load_config(service_config_path(name), env)


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free on `host` now (the embedded run's operator port, the tests' clusters)."""
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def embedded_config(data_dir: str | Path = "var/embedded", host: str = "127.0.0.1", port: int = 8000,
                    ops_port: int | None = None) -> dict[str, Any]:
    """The embedded run's config: the API on `port`, health and metrics on `ops_port` (default: a free port;
    `chibo demo` uses 9000), always on `host` (loopback by default)."""
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
            "embedded": True,  # the public demo secrets are accepted here only (shared/access.py is_embedded)
            "ops_address": f"{host}:{ops_port or free_port(host)}",
        },
    }


class EmbeddedPlatform:
    """All three services in this process. Call `eventlet.monkey_patch()` before importing chibo code."""

    def __init__(self, config: dict[str, Any]):
        from nameko.runners import ServiceRunner

        self.config = copy.deepcopy(config)
        self.runner = ServiceRunner(self.config)
        for name in (*SERVICE_NAMES, WEB):
            self.runner.add_service(service_class(name))

    @property
    def base_url(self) -> str:
        host, port = self.config["WEB_SERVER_ADDRESS"].rsplit(":", 1)
        return f"http://{host}:{port}"

    @property
    def ops_url(self) -> str:
        """Health and metrics (the operator port)."""
        return f"http://{self.config['CHIBO']['ops_address']}"

    def api_key(self, name: str = "embedded-client") -> str:
        """A new machine client's API key (role service, every scope it may hold) in this run's auth store."""
        return machine_key(settings_from(self.config).store, name)

    def sign_in(self, user: str, role: str, unit_id: str | None) -> str:
        """A token for `user` holding `role` in `unit_id` (signed with this run's secret)."""
        from shared.auth import auth_settings

        return user_token(settings_from(self.config).store, auth_settings(self.config, embedded=True), user, role,
                          unit_id)

    def client(self, key: str | None = None, **kwargs: Any) -> Any:
        """A client of this run: with `key`, or a new machine key."""
        from services.client import ChiboClient

        return ChiboClient.single(self.base_url, token=key or self.api_key(), ops_url=self.ops_url, **kwargs)

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
