"""Test set-up. nameko's testing plugin no longer monkey-patches (design.md §6): do it first, here."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

import shared  # noqa: E402, F401 - sets PSYCOPG_WAIT_FUNC before anything imports psycopg (design.md §6)
from tests.support import free_port, wait_for  # noqa: E402, F401 - re-exported for the tests

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def infra() -> None:
    """The real servers must be there: fail loudly (never skip) naming what to start."""
    missing = [name for name, port in (("PostgreSQL", 5432), ("RabbitMQ", 5672)) if not _listening(port)]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not reachable on 127.0.0.1; run `bash deploy/ensure-infra.sh`")


@pytest.fixture(scope="session")
def pg_prefix(infra: None) -> Iterator[str]:
    """A database prefix private to this test session; its databases are dropped at the end."""
    import psycopg

    prefix = f"chibo_t{uuid.uuid4().hex[:8]}"
    yield prefix
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)).fetchall()
        for (name,) in rows:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_settings(pg_prefix: str) -> Any:
    """StoreSettings for PostgreSQL with a prefix private to this test."""
    from shared.config import StoreSettings

    return StoreSettings(kind="postgres", pg_db_prefix=f"{pg_prefix}_{uuid.uuid4().hex[:6]}")


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Any:
    from shared.config import StoreSettings

    return StoreSettings(kind="sqlite", data_dir=str(tmp_path))


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest) -> Any:
    """Run a test on both event-store back ends."""
    return request.getfixturevalue(f"{request.param}_settings")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def fresh_vhost(infra: None) -> Iterator[str]:
    """A RabbitMQ virtual host private to one test."""
    vhost = f"chibo-test-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
    _rabbitmqctl("delete_vhost", vhost)


os.environ.setdefault("CHIBO_TEST", "1")
