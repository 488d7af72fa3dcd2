"""PostgreSQL connections for the benchmarks: the server's hundred connections are shared with other runs on
this machine, so a refused connection ("too many clients") is retried for up to two minutes."""

from __future__ import annotations

import time
from typing import Any

import psycopg


def connect(dbname: str, autocommit: bool = False, patience: float = 120.0) -> psycopg.Connection[Any]:
    deadline = time.monotonic() + patience
    delay = 0.25
    while True:
        try:
            return psycopg.connect(host="127.0.0.1", user="postgres", dbname=dbname, autocommit=autocommit,
                                   connect_timeout=10)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
