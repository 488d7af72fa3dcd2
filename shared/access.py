"""Access control in the web layer: who is calling, whether they may, and how fast (nameko glue for shared/auth.py).

Every route of the public port names its action (`@http(..., action="meetings:write")`); a route without one
does not exist (the decorator requires it). Before the service method runs, `JsonHttp` asks the container's
`Authenticator` for the principal behind `Authorization: Bearer <token or API key>` (401 without a valid one),
takes one request from the credential's rate budget (429 with Retry-After when it is spent) and checks the
action against the role and the credential's scopes (403). The method then checks the unit it touches with
`authorize(principal(request), action, unit_path=...)` and records `principal(request).subject` as the actor
of every event it stores. Health and metrics are not on the public port at all: they are served on the
operator port (`CHIBO.ops_address`, shared/web.py `ops_http`), which a deployment keeps off the public network.
"""

from __future__ import annotations

import threading
from typing import Any

from nameko.extensions import SharedExtension
from werkzeug.wrappers import Request

from shared.auth import (
    AuthSettings,
    AuthStore,
    Principal,
    Role,
    ServiceCredential,
    Unauthenticated,
    auth_settings,
    verify_credential,
)
from shared.config import settings_from
from shared.ratelimit import Limit, RateLimiter

PERSON_LIMIT = Limit(rate=20.0, burst=100)  # a person clicking and a page loading its parts: far below this
MACHINE_LIMIT = Limit(rate=1000.0, burst=5000)  # a register import or a year's meetings loaded by a script
AUTH_CACHE_SECONDS = 5.0  # a revocation takes effect within this; CHIBO.auth_cache_seconds


def is_embedded(config: dict[str, Any]) -> bool:
    """The embedded demo (one process, SQLite): the only run where the public demo secrets are accepted."""
    return (config.get("CHIBO") or {}).get("embedded") is True


def limits(config: dict[str, Any]) -> tuple[Limit, Limit]:
    """(people's, machine clients') rate limits from CHIBO.rate_limit/rate_burst and their `_machine` pair;
    a rate of 0 turns the limit off."""
    chibo = config.get("CHIBO") or {}

    def limit(suffix: str, default: Limit) -> Limit:
        return Limit(float(chibo.get(f"rate_limit{suffix}", default.rate)),
                     int(chibo.get(f"rate_burst{suffix}", default.burst)))

    return limit("", PERSON_LIMIT), limit("_machine", MACHINE_LIMIT)


_SHARED: dict[tuple[Any, float], list[Any]] = {}  # (store settings, cache) -> [AuthStore, users]
_SHARED_LOCK = threading.Lock()


def _open_store(config: dict[str, Any]) -> AuthStore:
    """The process's auth store for this config: one for every container and extension that asks (the
    embedded run has three containers; each would otherwise hold its own connections)."""
    key = (settings_from(config).store,
           float((config.get("CHIBO") or {}).get("auth_cache_seconds", AUTH_CACHE_SECONDS)))
    with _SHARED_LOCK:
        entry = _SHARED.get(key)
        if entry is None:
            entry = _SHARED[key] = [AuthStore(key[0], cache_seconds=key[1]), 0]
        entry[1] += 1
        return entry[0]


def _close_store(store: AuthStore) -> None:
    with _SHARED_LOCK:
        for key, entry in list(_SHARED.items()):
            if entry[0] is store:
                entry[1] -= 1
                if entry[1] == 0:
                    del _SHARED[key]
                    store.close()
                return


class Authenticator(SharedExtension):
    """One per service container: the auth settings, the auth store and the rate buckets."""

    def setup(self) -> None:
        config = self.container.config
        self.settings: AuthSettings = auth_settings(config, embedded=is_embedded(config))
        self.store = _open_store(config)
        self.person_limit, self.machine_limit = limits(config)
        self.limiter = RateLimiter()

    def stop(self) -> None:
        _close_store(self.store)

    def authenticate(self, request: Request) -> Principal:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("sign in: an `Authorization: Bearer <token or API key>` header is required",
                                  "cần đăng nhập: thiếu tiêu đề `Authorization: Bearer <mã truy cập hoặc khóa API>`")
        return verify_credential(value.strip(), settings=self.settings, store=self.store)

    def throttle(self, principal: Principal) -> float:
        """0 when the request may go ahead, else the seconds to wait (the credential's budget is spent)."""
        limit = self.machine_limit if principal.role is Role.SERVICE else self.person_limit
        return self.limiter.take(principal.token_id, limit)


def principal(request: Request) -> Principal:
    """The authenticated caller of a request that passed `JsonHttp` (set before the service method runs)."""
    found = getattr(request, "principal", None)
    if not isinstance(found, Principal):  # a route reached without authentication: a bug, never a default
        raise RuntimeError("no authenticated principal on this request")
    return found


class OwnCredential(SharedExtension):
    """The service's own credential for calling the other services (gap filling from their notifications)."""

    def setup(self) -> None:
        config = self.container.config
        self.store = _open_store(config)
        self.credential = ServiceCredential(self.container.service_name,
                                            auth_settings(config, embedded=is_embedded(config)), self.store)

    def stop(self) -> None:
        _close_store(self.store)

    def header(self) -> dict[str, str]:
        return self.credential.header()
