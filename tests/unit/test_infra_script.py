"""`make test` must fail with a message naming what to start when a server is absent."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "ensure-infra.sh"


@pytest.fixture
def bare_path(tmp_path):
    """A PATH with the shell tools the script uses and no server binaries, as on a machine without them."""
    for tool in ("bash", "seq", "sleep", "ls"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    return str(tmp_path)


def run(path, **env):
    return subprocess.run([shutil.which("bash"), str(SCRIPT)], capture_output=True, text=True, timeout=60,
                          env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **env})


def test_absent_rabbitmq_is_named(bare_path, infra):
    result = run(bare_path, RABBIT_PORT=str(free_port()), RABBIT_WAIT="1", PG_PORT="5432")
    assert result.returncode == 1
    assert "RabbitMQ is not reachable" in result.stderr and "rabbitmq-server" in result.stderr


def test_absent_postgresql_is_named(bare_path):
    result = run(bare_path, PG_PORT=str(free_port()), PG_WAIT="1")
    assert result.returncode == 1
    assert "PostgreSQL is not reachable" in result.stderr and "postgresql" in result.stderr


def test_servers_that_answer_pass(infra):
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "are up" in result.stdout
