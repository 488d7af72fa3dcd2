"""`make cluster ARGS="--replicas 2 --demo"` end to end (issue 8, scaling out): the command itself, with two
reporting replicas and a standby relay per source, every process logged in to the broker as its own user, the
demo ward's year recorded through it. One relay per source is active, and the reporting replicas between them
applied every published event exactly once (the processes' own counters, printed by the command)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid

import pytest

from services.cluster import ROOT

pytestmark = pytest.mark.infra


def free_block() -> int:
    """A base port whose cluster ports (base .. base+2, +1000.., +1010.., replica 2 at +10) are all free now."""
    for base in range(21001, 60000, 97):
        wanted = [base + d for d in (0, 1, 2, 12, 1000, 1001, 1002, 1012, 1010, 1011, 1020, 1021)]
        try:
            for port in wanted:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free block of ports")


def test_make_cluster_with_replicas_runs_the_demo_with_one_active_relay_per_source(fresh_vhost, pg_prefix, tmp_path):
    base = free_block()
    run = subprocess.run(
        [sys.executable, "-m", "services.cli", "cluster", "--replicas", "2", "--demo", "--demo-quick", "--no-serve",
         "--base-port", str(base), "--db-prefix", f"{pg_prefix}_{uuid.uuid4().hex[:6]}", "--amqp-uri", fresh_vhost],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        # small pools: eight processes share PostgreSQL's 100 connections with whatever else runs
        env={**os.environ, "CHIBO_PG_POOL_SIZE": "1", "CHIBO_PG_MAX_OVERFLOW": "3"})
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    assert "rabbitmqctl not found" not in out  # every process logged in as its service's own broker user
    assert "Đảng bộ phường Tân Giang" in out
    roles = dict(re.findall(r"^(\S+)\s+http://\S+\s+(.+)$", out, flags=re.M))
    assert set(roles) >= {"members", "meetings", "reporting", "reporting-2", "relay-members", "relay-members-2",
                          "relay-meetings", "relay-meetings-2"}
    for source in ("members", "meetings"):
        parts = sorted(roles[n] for n in (f"relay-{source}", f"relay-{source}-2"))
        assert parts == ["active", "standby"], (source, parts)
    applied = sum(int(m) for m in re.findall(r"applied (\d+) events", " ".join(
        roles[n] for n in ("reporting", "reporting-2"))))
    published = {s: int(n) for s, n in re.findall(r"(\w+) (\d+) events", out.split("published: ")[1])}
    assert published["members"] > 0 and published["meetings"] > 0
    assert applied == published["members"] + published["meetings"]  # each event once, over both replicas
