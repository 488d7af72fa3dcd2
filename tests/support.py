"""Test helpers that need no monkey-patching (usable from benchmarks and scripts too)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll until `predicate()` is truthy (eventual consistency); no fixed sleeps in tests."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # keep polling; report the last error on timeout
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; last error: {last_exc}")


def free_port() -> int:
    from services.runner import free_port as free

    return free()


def drain(amqp_uri: str, queue: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    """Take every message now in `queue` (a name or a kombu Queue): (routing key, JSON body, headers)."""
    import json

    from kombu import Connection

    out = []
    with Connection(amqp_uri) as conn:
        simple = conn.SimpleQueue(queue)
        while True:
            try:
                msg = simple.get(block=False)
            except simple.Empty:
                break
            body = json.loads(msg.body) if isinstance(msg.body, str | bytes) else msg.body
            out.append((msg.delivery_info.get("routing_key"), body, msg.headers))
            msg.ack()
        simple.close()
    return out


def person_token(config: dict[str, Any], user: str, role: str, unit_id: str | None) -> str:
    """A signed-in user's token for a run with `config` (recorded in its auth store, so it is accepted)."""
    import datetime as dt

    from shared.access import is_embedded
    from shared.auth import AuthStore, Role, auth_settings, issue_token
    from shared.config import settings_from

    auth = auth_settings(config, embedded=is_embedded(config))
    store = AuthStore(settings_from(config).store)
    try:
        return issue_token(user, Role(role), unit_id, secret=auth.secret, issuer=auth.issuer, audience=auth.audience,
                           ttl=dt.timedelta(hours=1), store=store)
    finally:
        store.close()
