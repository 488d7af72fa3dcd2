"""Configuration: each service's config.yml with `${VAR:default}` placeholders, read into typed settings.

The same keys drive both run modes. The embedded runner overrides a few (AMQP_URI=memory://, store=sqlite,
relay=embedded, one HTTP address) and hands the result to nameko, which passes it to every extension.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_PLACEHOLDER = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<default>[^}]*))?\}")


def _substitute(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def repl(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in env:
            return env[name]
        if default is None:
            raise KeyError(f"config needs environment variable {name} (no default given)")
        return default

    replaced = _PLACEHOLDER.sub(repl, value)
    # A whole-value placeholder is re-read as YAML so numbers and booleans keep their type.
    if _PLACEHOLDER.fullmatch(value):
        return yaml.safe_load(replaced) if replaced != "" else ""
    return replaced


def load_config(path: str | os.PathLike[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return _substitute(raw, dict(os.environ) if env is None else env)


def service_config_path(service: str) -> Path:
    return Path(__file__).resolve().parent.parent / "services" / service / "config.yml"


@dataclass(frozen=True)
class StoreSettings:
    """Where a service keeps its event store and its read models."""

    kind: str = "sqlite"  # sqlite | postgres
    data_dir: str = "var"
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: str = ""
    pg_db_prefix: str = "chibo"
    # Encryption at rest (shared/pii.py): base64 of 32 bytes each; empty = the public demo keys, which only
    # a run that allows them may use (the embedded demo, tests; config.yml: CHIBO_ALLOW_DEMO_KEYS=true).
    pii_master_key: str = field(default="", repr=False)
    cipher_key: str = field(default="", repr=False)
    allow_demo_keys: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("sqlite", "postgres"):
            raise ValueError(f"CHIBO.store must be 'sqlite' or 'postgres', not {self.kind!r}")

    def dbname(self, service: str) -> str:
        return f"{self.pg_db_prefix}_{service}"

    def sqlite_path(self, service: str, name: str) -> Path:
        path = Path(self.data_dir) / service / f"{name}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class ChiboSettings:
    store: StoreSettings
    amqp_uri: str
    relay: str = "embedded"  # embedded: the relay runs inside the service; external: its own process
    poll_interval: float = 0.2
    max_tries: int = 3  # attempts at applying one event before it is dead-lettered
    catch_up_interval: float = 5.0  # seconds a consumer may sit idle before it asks its sources what it missed
    ready_max_lag: float = 60.0  # seconds of consumer lag beyond which the service reports itself not ready
    consumer_batch: int = 200  # messages already delivered that a tracked consumer applies in one transaction
    sources: dict[str, str] = field(default_factory=dict)  # source name -> base URL of its HTTP API


def settings_from(config: dict[str, Any]) -> ChiboSettings:
    chibo = dict(config.get("CHIBO") or {})
    store_keys = {k: chibo.pop(k) for k in list(chibo) if k in StoreSettings.__dataclass_fields__ or k == "store"}
    kind = store_keys.pop("store", "sqlite")
    store = StoreSettings(kind=kind, **{k: v for k, v in store_keys.items() if k != "kind"})
    return ChiboSettings(
        store=store,
        amqp_uri=config.get("AMQP_URI", "memory://"),
        relay=chibo.get("relay", "embedded"),
        poll_interval=float(chibo.get("poll_interval", 0.2)),
        max_tries=int(chibo.get("max_tries", 3)),
        catch_up_interval=float(chibo.get("catch_up_interval", 5.0)),
        ready_max_lag=float(chibo.get("ready_max_lag", 60.0)),
        consumer_batch=max(1, int(chibo.get("consumer_batch", 200))),
        sources=dict(chibo.get("sources") or {}),
    )
