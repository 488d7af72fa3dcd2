"""The distributed run as plain processes: each service and each relay on its own, against RabbitMQ and
PostgreSQL. Used by `make cluster` and by the integration tests (same topology as docker-compose.yml).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.client import ChiboClient
from services.runner import SERVICE_NAMES, WRITERS, machine_key, user_token
from shared.auth import AuthSettings
from shared.config import StoreSettings

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Cluster:
    """Processes: `chibo run <service>` for each service, `chibo relay <source>` for each writer."""

    amqp_uri: str = "pyamqp://guest:guest@127.0.0.1:5672/"
    db_prefix: str = "chibo"
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: {"members": 8001, "meetings": 8002, "reporting": 8003})
    ops_ports: dict[str, int] = field(default_factory=lambda: {"members": 9001, "meetings": 9002, "reporting": 9003,
                                                              "relay-members": 9011, "relay-meetings": 9012})
    # The services' JWT secret: the environment's CHIBO_JWT_SECRET, or one made for this cluster's life.
    jwt_secret: str = field(default_factory=lambda: os.environ.get("CHIBO_JWT_SECRET") or secrets.token_urlsafe(48))
    log_dir: Path = ROOT / "var" / "cluster"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Each service and relay logs in to RabbitMQ as its own user, allowed only what it does (shared/definitions.py):
    # `start` imports the definitions with rabbitmqctl (users <broker_prefix>-<service>, random passwords).
    broker_users: bool = False
    broker_prefix: str = field(default_factory=lambda: f"chibo-{secrets.token_hex(3)}")
    broker_passwords: dict[str, str] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {s: f"http://{self.host}:{p}" for s, p in self.ports.items()}

    @property
    def ops_urls(self) -> dict[str, str]:
        """Operator ports: each service's (health, metrics) and each relay's (`relay-<source>`: /metrics)."""
        return {s: f"http://{self.host}:{p}" for s, p in self.ops_ports.items()}

    @property
    def store(self) -> StoreSettings:
        return StoreSettings(kind="postgres", pg_db_prefix=self.db_prefix)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "AMQP_URI": self.amqp_uri,
            "CHIBO_STORE": "postgres",
            "CHIBO_PG_DB_PREFIX": self.db_prefix,
            "CHIBO_RELAY": "external",
            "CHIBO_POLL_INTERVAL": "0.05",
            "MEMBERS_HTTP": f"{self.host}:{self.ports['members']}",
            "MEETINGS_HTTP": f"{self.host}:{self.ports['meetings']}",
            "REPORTING_HTTP": f"{self.host}:{self.ports['reporting']}",
            "MEMBERS_OPS": f"{self.host}:{self.ops_ports['members']}",
            "MEETINGS_OPS": f"{self.host}:{self.ops_ports['meetings']}",
            "REPORTING_OPS": f"{self.host}:{self.ops_ports['reporting']}",
            "MEMBERS_RELAY_OPS": f"{self.host}:{self.ops_ports['relay-members']}",
            "MEETINGS_RELAY_OPS": f"{self.host}:{self.ops_ports['relay-meetings']}",
            "CHIBO_JWT_SECRET": self.jwt_secret,
            "CHIBO_MEMBERS_URL": f"{self.urls['members']}/members",
            "CHIBO_MEETINGS_URL": f"{self.urls['meetings']}/meetings",
            "PYTHONUNBUFFERED": "1",
            # A local trial cluster: the public demo encryption keys, explicitly (a deployment sets its own).
            "CHIBO_ALLOW_DEMO_KEYS": os.environ.get("CHIBO_ALLOW_DEMO_KEYS", "true"),
        })
        env.update(self.extra_env)
        env.update(extra)
        return env

    def service_amqp_uri(self, service: str) -> str:
        """The broker URI `service` (or its relay) connects with: its own user when broker_users is on."""
        from shared.definitions import service_uri, user_name

        if service not in self.broker_passwords:
            return self.amqp_uri
        return service_uri(self.amqp_uri, user_name(service, self.broker_prefix), self.broker_passwords[service])

    def provision_broker(self, timeout: float = 30.0) -> None:
        """Import the definitions (topology, a user per service) into this cluster's virtual host."""
        import json
        import time
        from urllib.parse import unquote, urlsplit

        from shared.definitions import ADMIN, SERVICES, definitions, user_name

        vhost = unquote(urlsplit(self.amqp_uri).path[1:]) or "/"
        self.broker_passwords = {u: secrets.token_hex(16) for u in (*SERVICES, ADMIN)}  # no leading "-" for rabbitmqctl
        document = json.dumps(definitions(vhost, self.broker_passwords, self.broker_prefix))
        # On standard input: a path would be opened by the broker, which runs as its own user.
        subprocess.run(["rabbitmqctl", "-q", "import_definitions", "--format", "json"], input=document.encode(),
                       check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + timeout  # the import is asynchronous: wait until every user can log in
        for service in SERVICES:
            while subprocess.run(["rabbitmqctl", "-q", "authenticate_user", user_name(service, self.broker_prefix),
                                  self.broker_passwords[service]], capture_output=True, timeout=60).returncode:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"broker user for {service} not there after {timeout}s")
                time.sleep(0.2)

    def remove_broker_users(self) -> None:
        from shared.definitions import user_name

        for user in list(self.broker_passwords):
            subprocess.run(["rabbitmqctl", "-q", "delete_user", user_name(user, self.broker_prefix)],
                           capture_output=True, timeout=60)
        self.broker_passwords = {}

    def spawn(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        if len(args) >= 2 and args[0] in ("run", "relay") and "AMQP_URI" not in extra_env:
            extra_env["AMQP_URI"] = self.service_amqp_uri(args[1])
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
        proc = subprocess.Popen([sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=self.env(**extra_env),
                                stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = proc
        return proc

    def start(self, timeout: float = 60.0, relays: tuple[str, ...] = WRITERS) -> Cluster:
        if self.broker_users:
            self.provision_broker()
        subprocess.run([sys.executable, "-m", "services.cli", "declare"], cwd=ROOT, env=self.env(), check=True,
                       capture_output=True)
        for service in SERVICE_NAMES:
            self.spawn(service, "run", service)
        for source in relays:
            self.spawn(f"relay-{source}", "relay", source)
        ChiboClient(self.urls, ops_urls=self.ops_urls).wait_healthy(timeout=timeout)
        return self

    def sign_in(self, user: str, role: str, unit_id: str | None) -> str:
        """A token for `user` holding `role` in `unit_id`, signed with the cluster's secret."""
        return user_token(self.store, AuthSettings(self.jwt_secret, "chibo", "chibo-api"), user, role, unit_id)

    def replica(self, service: str, name: str, http_port: int, ops_port: int) -> subprocess.Popen[bytes]:
        """Another process of `service` (`chibo run`), on its own ports: a replica behind the same queues
        (single active consumer: it stands by until the active one goes) and the same databases."""
        key = service.upper()
        self.ports[name], self.ops_ports[name] = http_port, ops_port
        return self.spawn(name, "run", service, **{f"{key}_HTTP": f"{self.host}:{http_port}",
                                                   f"{key}_OPS": f"{self.host}:{ops_port}"})

    def standby_relay(self, source: str, name: str, ops_port: int) -> subprocess.Popen[bytes]:
        """Another `chibo relay <source>`: it waits on the source's lock and takes over when the active one dies."""
        self.ops_ports[name] = ops_port
        return self.spawn(name, "relay", source, **{f"{source.upper()}_RELAY_OPS": f"{self.host}:{ops_port}"})

    def wait_replicas(self, timeout: float = 60.0) -> None:
        """Wait until every process's operator port answers (services: /live; relays: /metrics)."""
        import time

        from services.client import wait_answering

        deadline = time.monotonic() + timeout
        for name, url in self.ops_urls.items():
            service = next((s for s in ("members", "meetings", "reporting") if name.startswith(s)), None)
            wait_answering(url + (f"/{service}/live" if service else "/metrics"), deadline, f"{name} does not answer")

    def metric_samples(self) -> dict[str, list[Any]]:
        """Every process's /metrics samples, read once, by process name."""
        import requests
        from prometheus_client.parser import text_string_to_metric_families

        out = {}
        for name, url in self.ops_urls.items():
            service = next((s for s in ("members", "meetings", "reporting") if name.startswith(s)), None)
            text = requests.get(url + (f"/{service}/metrics" if service else "/metrics"), timeout=10).text
            out[name] = [s for f in text_string_to_metric_families(text) for s in f.samples]
        return out

    @staticmethod
    def roles(samples: dict[str, list[Any]]) -> dict[str, str]:
        """Each process's part, from its metrics: a relay "active" or "standby", a reporting replica the events it
        applied (the active consumer applies deliveries; any replica may apply what it pulls when idle, each event
        once in all, by the shared tracking table), other services "serving"."""
        roles = {}
        for name, own in samples.items():
            if name.startswith("relay-"):
                active = sum(s.value for s in own if s.name == "chibo_relay_active")
                roles[name] = "active" if active else "standby"
            elif name.startswith("reporting"):
                applied = sum(s.value for s in own if s.name == "chibo_consumer_events_total"
                              and s.labels.get("outcome") == "applied")
                roles[name] = f"applied {applied:.0f} events"
            else:
                roles[name] = "serving"
        return roles

    @staticmethod
    def published(samples: dict[str, list[Any]]) -> dict[str, int]:
        """Events the relays of each source have published (confirmed by the broker), summed over the relays."""
        totals: dict[str, int] = {}
        for name, own in samples.items():
            if name.startswith("relay-"):
                for s in own:
                    if s.name == "chibo_events_published_total":
                        totals[s.labels["source"]] = totals.get(s.labels["source"], 0) + int(s.value)
        return totals

    def roles_table(self) -> str:
        samples = self.metric_samples()
        lines = ["process                operator port                part"]
        for name, role in self.roles(samples).items():
            lines.append(f"{name:<22} {self.ops_urls[name]:<28} {role}")
        published = self.published(samples)
        lines.append("published: " + ", ".join(f"{s} {n} events" for s, n in sorted(published.items())))
        return "\n".join(lines)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def client(self, key: str | None = None, **kwargs: object) -> ChiboClient:
        """A client of the cluster: with `key` (a token or an API key), or a new machine key."""
        return ChiboClient(self.urls, token=key or machine_key(self.store, "cluster-client"),  # type: ignore[arg-type]
                           ops_urls=self.ops_urls, **kwargs)

    def stop(self, name: str | None = None, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        names = [name] if name else list(self.processes)
        for n in names:
            proc = self.processes.get(n)
            if proc is not None and proc.poll() is None:
                proc.send_signal(sig)
        for n in names:
            proc = self.processes.pop(n, None)
            if proc is None:
                continue
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if name is None and self.broker_passwords:
            self.remove_broker_users()
