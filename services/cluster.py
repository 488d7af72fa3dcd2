"""The distributed run as plain processes: each service and each relay on its own, against RabbitMQ and
PostgreSQL. Used by `make cluster` and by the integration tests (same topology as docker-compose.yml).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from services.client import ChiboClient
from services.runner import SERVICE_NAMES, WRITERS

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Cluster:
    """Processes: `chibo run <service>` for each service, `chibo relay <source>` for each writer."""

    amqp_uri: str = "pyamqp://guest:guest@127.0.0.1:5672/"
    db_prefix: str = "chibo"
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: {"members": 8001, "meetings": 8002, "reporting": 8003})
    log_dir: Path = ROOT / "var" / "cluster"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {s: f"http://{self.host}:{p}" for s, p in self.ports.items()}

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
            "CHIBO_MEMBERS_URL": f"{self.urls['members']}/members",
            "CHIBO_MEETINGS_URL": f"{self.urls['meetings']}/meetings",
            "PYTHONUNBUFFERED": "1",
            # A local trial cluster: the public demo encryption keys, explicitly (a deployment sets its own).
            "CHIBO_ALLOW_DEMO_KEYS": os.environ.get("CHIBO_ALLOW_DEMO_KEYS", "true"),
        })
        env.update(self.extra_env)
        env.update(extra)
        return env

    def spawn(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
        proc = subprocess.Popen([sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=self.env(**extra_env),
                                stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = proc
        return proc

    def start(self, timeout: float = 60.0, relays: tuple[str, ...] = WRITERS) -> Cluster:
        subprocess.run([sys.executable, "-m", "services.cli", "declare"], cwd=ROOT, env=self.env(), check=True,
                       capture_output=True)
        for service in SERVICE_NAMES:
            self.spawn(service, "run", service)
        for source in relays:
            self.spawn(f"relay-{source}", "relay", source)
        self.client().wait_healthy(timeout=timeout)
        return self

    def client(self, **kwargs: object) -> ChiboClient:
        return ChiboClient(self.urls, **kwargs)  # type: ignore[arg-type]

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
