"""`chibo run` and `chibo demo` put psycopg on eventlet's hub (shared/green.py, design.md §6).

Checked in a fresh interpreter, as a deployment starts it (no PSYCOPG_WAIT_FUNC in its environment): the CLI's
own imports must not reach psycopg before the process is patched, or every query stalls every greenthread.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
import services.cli as cli
from shared.green import psycopg_blocks_hub

def probe(args):
    print("problem:", psycopg_blocks_hub())
    return 0

cli.cmd_run = cli.cmd_demo = probe
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("argv", [["run", "meetings"], ["demo", "--no-serve"]])
def test_serving_commands_wait_on_the_hub(argv):
    env = {k: v for k, v in os.environ.items() if k != "PSYCOPG_WAIT_FUNC"}
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "problem: None" in out.stdout, out.stdout


def test_a_blocking_psycopg_is_named():
    """psycopg imported before the patch (what the CLI used to do) is refused, with the reason."""
    env = {k: v for k, v in os.environ.items() if k != "PSYCOPG_WAIT_FUNC"}
    code = ("import psycopg, eventlet; eventlet.monkey_patch(); import shared;"
            "from shared.green import psycopg_blocks_hub; print(psycopg_blocks_hub())")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert "not wait_selector" in out.stdout, out.stdout + out.stderr
