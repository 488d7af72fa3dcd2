"""What authentication adds to each request: verifying a JWT or an API key against the auth store (its revocation
list, its key hashes), taking from the rate bucket and checking the action, in process, on SQLite and PostgreSQL.

    python -m tests.bench.auth_overhead [--n 2000]

Baseline beside it: PyJWT's own decode of the same token (signature and claims only, no store).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import tempfile
import time
import uuid

import jwt

from shared.auth import (
    DEMO_SECRET,
    POLICY,
    AuthSettings,
    AuthStore,
    Role,
    create_api_key,
    issue_token,
    permit,
    verify_credential,
)
from shared.config import StoreSettings
from shared.ratelimit import Limit, RateLimiter


def per_call_us(run, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        run()
    return (time.perf_counter() - started) / n * 1e6


def measure(kind: str, settings: StoreSettings, auth: AuthSettings, n: int, cache: float) -> None:
    """One line per credential kind on one store."""
    store = AuthStore(settings, cache_seconds=cache)
    kind = f"{kind}{' cached' if cache else ''}"
    limiter, unlimited = RateLimiter(), Limit(rate=0, burst=0)
    try:
        token = issue_token("lan", Role.WARD_STAFF, "W1", secret=auth.secret, issuer=auth.issuer,
                            audience=auth.audience, ttl=dt.timedelta(hours=1), store=store)
        _, key = create_api_key(store, "bench", POLICY[Role.SERVICE].actions, role=Role.SERVICE)

        def verify(credential: str) -> None:
            verify_credential(credential, settings=auth, store=store)

        def whole(credential: str) -> None:
            principal = verify_credential(credential, settings=auth, store=store)
            limiter.take(principal.token_id, unlimited)
            permit(principal, "members:read")

        def bare() -> None:
            jwt.decode(token, auth.secret, algorithms=["HS256"], audience=auth.audience, issuer=auth.issuer)

        for name, credential in (("JWT", token), ("API key", key)):
            alone = per_call_us(bare, n) if name == "JWT" else float("nan")
            print(f"{kind:<18} {name:<8} {per_call_us(lambda c=credential: verify(c), n):>12.0f} "
                  f"{per_call_us(lambda c=credential: whole(c), n):>26.0f} {alone:>25.0f}")
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    auth = AuthSettings(DEMO_SECRET, "chibo", "chibo-api")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, n={args.n}")
    print(f"{'store':<18} {'credential':<8} {'verify (µs)':>12} {'+ throttle + permit (µs)':>26} "
          f"{'PyJWT decode alone (µs)':>25}")
    pg = StoreSettings(kind="postgres", pg_db_prefix=f"chibo_bench_auth{uuid.uuid4().hex[:6]}")
    try:
        for cache in (0.0, 5.0):  # every request reads the store; the serving default (5 s)
            measure("sqlite", StoreSettings(kind="sqlite", data_dir=tempfile.mkdtemp()), auth, args.n, cache)
            measure("postgres", pg, auth, args.n, cache)
    finally:
        import psycopg

        with psycopg.connect(dbname="postgres", host="127.0.0.1", user="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg.dbname("auth")}" WITH (FORCE)')


if __name__ == "__main__":
    main()
