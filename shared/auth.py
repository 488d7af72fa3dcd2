"""Authentication and authorisation core: who is calling (a JWT or an API key) and what they may do.

Framework-free (no nameko): the web layer will call `verify_token` / `verify_api_key` on each request and
`authorize` before each command or query; it is NOT yet wired into the services' routes.

- Tokens: JWT signed with HS256 and a shared secret (CHIBO_JWT_SECRET). The algorithm list is fixed here,
  never read from the token or from config, so `alg: none` or an algorithm swap is refused. To move to
  asymmetric keys: set `ALGORITHMS = ("EdDSA",)` (or RS256), sign in the CLI with the private key, give the
  services only the public key (PyJWT then needs the `cryptography` package, pinned like the others); the
  claims and checks below stay the same.
- API keys (machine clients): `chibo_<key_id>_<secret>`; only a salted SHA-256 of the secret is stored.
- One store (`AuthStore`, its own database `<prefix>_auth` or `<data_dir>/auth/auth.sqlite`) remembers the
  issued tokens' ids, their revocation and the API keys' hashes.
- Authorisation in ONE place, deny by default: `POLICY` maps a role to its actions and its reach (its own
  subtree, or the whole city); `authorize` raises `Forbidden`, `visible` filters query results.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from shared.config import StoreSettings
from shared.errors import DomainError
from shared.stores import TrackedStore

ALGORITHMS = ("HS256",)  # fixed in code: never taken from the token's header or from config
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "sub", "jti")
MIN_SECRET_BYTES = 32  # HS256 wants a key at least as long as its hash (RFC 7518 §3.2)
# The embedded demo's secret: public (it is in this file), so the distributed run refuses it (auth_settings).
DEMO_SECRET = "chibo-demo-secret-not-for-production-use-0000"
API_KEY_PREFIX = "chibo"


class Unauthenticated(DomainError):
    """No valid credentials (HTTP 401). The message names the reason, never the token or the key."""

    status = 401

    def __init__(self, message: str, vi: str):
        super().__init__("authorization", message, rule="unauthenticated", vi=vi)


class Forbidden(DomainError):
    """Authenticated, but the action or the unit is out of the principal's reach (HTTP 403)."""

    status = 403

    def __init__(self, message: str, vi: str):
        super().__init__("authorization", message, rule="forbidden", vi=vi)


class Role(StrEnum):
    CELL_SECRETARY = "cell_secretary"  # bí thư chi bộ
    WARD_STAFF = "ward_staff"  # cán bộ đảng ủy phường/xã
    DISTRICT_STAFF = "district_staff"  # cán bộ huyện ủy/quận ủy
    CITY_STAFF = "city_staff"  # cán bộ thành ủy
    AUDITOR = "auditor"  # kiểm tra viên
    OPERATOR = "operator"  # quản trị vận hành
    SERVICE = "service"  # hệ thống: a machine client (API keys) and the services' own calls to each other

    @property
    def label_vi(self) -> str:
        return ROLE_LABELS[self][0]

    @property
    def label_en(self) -> str:
        return ROLE_LABELS[self][1]


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.CELL_SECRETARY: ("Bí thư chi bộ", "Cell secretary"),
    Role.WARD_STAFF: ("Cán bộ Đảng ủy phường", "Ward staff"),
    Role.DISTRICT_STAFF: ("Cán bộ Huyện ủy", "District staff"),
    Role.CITY_STAFF: ("Cán bộ Thành ủy", "City staff"),
    Role.AUDITOR: ("Kiểm tra viên", "Auditor"),
    Role.OPERATOR: ("Quản trị vận hành", "Operator"),
    Role.SERVICE: ("Hệ thống (máy)", "Machine client"),
}
# People hold these roles through tokens; SERVICE only through API keys and the services' own credentials.
PERSON_ROLES = tuple(r for r in Role if r is not Role.SERVICE)

# Every action a route may ask about. Anything else is refused (deny by default).
ACTIONS = frozenset({
    "meetings:read", "meetings:write",
    "members:read", "members:write",
    "reports:read",
    "events:read",  # the audit trails: every event of a member, a meeting or a cell, with who recorded it
    "feed:read",  # a service's notification log (gap filling, replay): every event it published
    "replay:run", "deadletters:manage",
    "api:read",  # the OpenAPI documents
})


@dataclass(frozen=True)
class Grant:
    actions: frozenset[str]
    city_wide: bool  # False: only targets in the principal's own subtree


_READ = frozenset({"meetings:read", "members:read", "reports:read", "api:read"})
POLICY: dict[Role, Grant] = {
    Role.CELL_SECRETARY: Grant(frozenset({"meetings:read", "meetings:write", "members:read", "api:read"}),
                               city_wide=False),
    Role.WARD_STAFF: Grant(_READ | {"members:write"}, city_wide=False),
    Role.DISTRICT_STAFF: Grant(_READ, city_wide=False),
    Role.CITY_STAFF: Grant(_READ, city_wide=True),
    Role.AUDITOR: Grant(frozenset({"events:read", "feed:read", "api:read"}), city_wide=True),
    Role.OPERATOR: Grant(frozenset({"replay:run", "deadletters:manage", "feed:read", "api:read"}), city_wide=True),
    # Loading a register or a year of meetings, and the consumers' gap filling: writes and reads everywhere, but
    # neither replays nor the dead letters (an operator's), and only through a key an operator created.
    Role.SERVICE: Grant(_READ | {"members:write", "meetings:write", "events:read", "feed:read"}, city_wide=True),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a person (JWT) or a machine client (API key)."""

    subject: str
    role: Role
    unit_id: str | None  # the unit the role is held in; None for the city-wide roles
    scopes: frozenset[str]  # the actions this credential carries (a person's: all of the role's)
    token_id: str  # the JWT's jti or the API key's id: what an event records and a revocation names


def parse_role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValueError(f"vai trò không hợp lệ / unknown role {raw!r} (one of: {names})") from None


def _check_unit(role: Role, unit_id: str | None) -> None:
    if not POLICY[role].city_wide and not unit_id:
        raise ValueError(f"vai trò {role.value} cần một đơn vị / role {role.value} needs a unit (--unit)")


# --- authorisation ---------------------------------------------------------------------------------


def visible(principal: Principal, unit_path: Sequence[str] | None) -> bool:
    """Whether a unit (given by its path from the root down) is within the principal's reach.

    For filtering query results after `authorize` allowed the query: city-wide roles see every unit, the
    others their own unit and what lies under it. A row without a path is not visible (deny by default).
    """
    if POLICY[principal.role].city_wide:
        return True
    return bool(unit_path) and principal.unit_id is not None and principal.unit_id in unit_path


def permit(principal: Principal, action: str) -> None:
    """Allow `action` somewhere (the role and the credential's scopes hold it), or raise Forbidden.

    What every route checks before it runs; `authorize` adds the unit."""
    grant = POLICY.get(principal.role)
    if action not in ACTIONS or grant is None or action not in grant.actions or action not in principal.scopes:
        raise Forbidden(f"role {principal.role.value} may not {action}",
                        f"vai trò {principal.role.label_vi} không được phép {action}")


def authorize(principal: Principal, action: str, *, unit_path: Sequence[str] | None = None) -> None:
    """Allow `action` on the unit at `unit_path`, or raise Forbidden. The one place access is decided."""
    permit(principal, action)
    if not visible(principal, unit_path):
        raise Forbidden(f"{action}: the unit is outside your organisation ({principal.unit_id})",
                        f"{action}: đơn vị nằm ngoài phạm vi tổ chức của bạn ({principal.unit_id})")


# --- the store -------------------------------------------------------------------------------------

_TABLES = (
    "CREATE TABLE IF NOT EXISTS auth_tokens (jti TEXT PRIMARY KEY, subject TEXT NOT NULL, role TEXT NOT NULL,"
    " unit_id TEXT, issued_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS auth_api_keys (key_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,"
    " unit_id TEXT, scopes TEXT NOT NULL, salt TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL,"
    " revoked_at TEXT)",
    # People's sign-in accounts (the web app): a password's scrypt hash, never the password (shared/accounts.py)
    "CREATE TABLE IF NOT EXISTS auth_accounts (username TEXT PRIMARY KEY, role TEXT NOT NULL, unit_id TEXT,"
    " salt TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL)",
)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


class AuthStore:
    """Issued tokens' ids, revocations and API-key hashes, in the `auth` database (SQLite or PostgreSQL)."""

    def __init__(self, settings: StoreSettings, cache_seconds: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        """`cache_seconds`: how long a serving process may reuse what it read of a token's revocation or a key's
        row (a revocation then takes effect within that time; 0 reads the store on every request). A store read
        costs a few milliseconds on PostgreSQL, more than everything else authentication does."""
        self._store = TrackedStore(settings, "auth", name="auth", pool_size=2)  # short reads: few connections
        self._store.create_tables(_TABLES)
        self.cache_seconds, self._clock = cache_seconds, clock
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}

    def ping(self) -> None:
        """One query on the store (readiness); raises when it does not answer."""
        with self._store.read() as sql:
            sql.scalar("SELECT 1")

    def _cached(self, kind: str, ident: str, read: Callable[[], Any]) -> Any:
        if self.cache_seconds <= 0:
            return read()
        now = self._clock()
        hit = self._cache.get((kind, ident))
        if hit is not None and hit[0] > now:
            return hit[1]
        value = read()
        if len(self._cache) >= 10_000:  # bounded: a flood of distinct credentials only costs reads
            self._cache.clear()
        self._cache[(kind, ident)] = (now + self.cache_seconds, value)
        return value

    def record_token(self, jti: str, subject: str, role: Role, unit_id: str | None,
                     issued_at: dt.datetime, expires_at: dt.datetime) -> None:
        with self._store.write() as sql:
            sql.execute("INSERT INTO auth_tokens (jti, subject, role, unit_id, issued_at, expires_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (jti, subject, role.value, unit_id, _iso(issued_at), _iso(expires_at)))

    def token_active(self, jti: str) -> bool:
        """Issued here and not revoked."""
        def read() -> bool:
            with self._store.read() as sql:
                row = sql.execute("SELECT revoked_at FROM auth_tokens WHERE jti = ?", (jti,)).fetchone()
            return row is not None and row["revoked_at"] is None

        return bool(self._cached("token", jti, read))

    def _revoke(self, table: str, column: str, ident: str, now: dt.datetime | None) -> bool:
        with self._store.write() as sql:
            sql.execute(f"UPDATE {table} SET revoked_at = ? WHERE {column} = ? AND revoked_at IS NULL",
                        (_iso(now or dt.datetime.now(dt.UTC)), ident))
            return sql.rowcount == 1

    def revoke_token(self, jti: str, now: dt.datetime | None = None) -> bool:
        """Revoke an issued token; False when there is no such active token."""
        return self._revoke("auth_tokens", "jti", jti, now)

    def add_api_key(self, key_id: str, name: str, role: Role, unit_id: str | None, scopes: Iterable[str],
                    salt: str, digest: str, created_at: dt.datetime) -> None:
        with self._store.write() as sql:
            sql.execute("INSERT INTO auth_api_keys (key_id, name, role, unit_id, scopes, salt, hash, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key_id, name, role.value, unit_id, " ".join(sorted(scopes)), salt, digest,
                         _iso(created_at)))

    def api_key(self, key_id: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            with self._store.read() as sql:
                row = sql.execute("SELECT key_id, name, role, unit_id, scopes, salt, hash, revoked_at"
                                  " FROM auth_api_keys WHERE key_id = ?", (key_id,)).fetchone()
            return dict(row) if row is not None else None

        return self._cached("key", key_id, read)

    def revoke_api_key(self, key_id: str, now: dt.datetime | None = None) -> bool:
        return self._revoke("auth_api_keys", "key_id", key_id, now)

    def put_account(self, username: str, role: Role, unit_id: str | None, salt: str, digest: str,
                    now: dt.datetime) -> None:
        """Create a sign-in account, or replace its role, unit and password."""
        with self._store.write() as sql:
            sql.execute("DELETE FROM auth_accounts WHERE username = ?", (username,))
            sql.execute("INSERT INTO auth_accounts (username, role, unit_id, salt, hash, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)", (username, role.value, unit_id, salt, digest, _iso(now)))

    def account(self, username: str) -> dict[str, Any] | None:
        with self._store.read() as sql:
            row = sql.execute("SELECT username, role, unit_id, salt, hash FROM auth_accounts WHERE username = ?",
                              (username,)).fetchone()
        return dict(row) if row is not None else None

    def close(self) -> None:
        self._store.close()


# --- tokens ----------------------------------------------------------------------------------------


def issue_token(subject: str, role: Role, unit_id: str | None, *, secret: str, issuer: str, audience: str,
                ttl: dt.timedelta, store: AuthStore | None = None, now: dt.datetime | None = None,
                machine: bool = False) -> str:
    """A signed token for `subject` holding `role` in `unit_id`; recorded in `store` (so it can be revoked).

    The machine role only with `machine=True` (a service's own credential, `ServiceCredential`): a person's
    token never carries it."""
    if role is Role.SERVICE and not machine:
        raise ValueError("vai trò service chỉ dành cho khóa API / the service role is for API keys "
                         "(chibo apikey create --role service), not for a person's token")
    _check_unit(role, unit_id)
    issued = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    expires = issued + ttl
    jti = uuid.uuid4().hex
    claims = {"iss": issuer, "aud": audience, "sub": subject, "jti": jti, "iat": issued, "exp": expires,
              "role": role.value, "unit": unit_id}
    token = jwt.encode(claims, secret, algorithm=ALGORITHMS[0])
    if store is not None:
        store.record_token(jti, subject, role, unit_id, issued, expires)
    return token


_REASONS: list[tuple[type[Exception], str, str]] = [  # the most specific first
    (jwt.ExpiredSignatureError, "the token has expired", "phiên đăng nhập đã hết hạn"),
    (jwt.InvalidIssuerError, "the token was issued by someone else", "mã truy cập không do hệ thống này cấp"),
    (jwt.InvalidAudienceError, "the token is not meant for this platform", "mã truy cập không dành cho hệ thống này"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim", "mã truy cập thiếu thông tin bắt buộc"),
    (jwt.ImmatureSignatureError, "the token is not valid yet", "mã truy cập chưa có hiệu lực"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted", "thuật toán ký không được chấp nhận"),
    (jwt.InvalidSignatureError, "the token's signature is wrong", "chữ ký của mã truy cập không đúng"),
    (jwt.PyJWTError, "the token is malformed", "mã truy cập không hợp lệ"),
]


def _refused(exc: Exception) -> Unauthenticated:
    for kind, en, vi in _REASONS:
        if isinstance(exc, kind):
            detail = f" ({exc.claim})" if isinstance(exc, jwt.MissingRequiredClaimError) else ""
            return Unauthenticated(en + detail, vi + detail)
    raise exc  # not a token problem: a bug, let it surface


def verify_token(token: str, *, secret: str, issuer: str, audience: str, store: AuthStore | None = None,
                 now: dt.datetime | None = None) -> Principal:
    """The principal a token names, or Unauthenticated. With `store`, the token must be one issued there and
    not revoked. `now` (tests, replays) replaces the clock for the time checks."""
    options: dict[str, Any] = {"require": list(REQUIRED_CLAIMS), "enforce_minimum_key_length": True}
    if now is not None:  # PyJWT reads the wall clock; with a given instant the time checks are done below
        options.update(verify_exp=False, verify_iat=False, verify_nbf=False)
    try:
        claims = jwt.decode(token, secret, algorithms=list(ALGORITHMS), audience=audience, issuer=issuer,
                            options=options)  # type: ignore[arg-type]
    except jwt.PyJWTError as exc:
        raise _refused(exc) from None  # `from None`: the token is not carried along in a chained traceback
    if now is not None and int(claims["exp"]) <= now.timestamp():
        raise _refused(jwt.ExpiredSignatureError())
    if now is not None and int(claims["iat"]) > now.timestamp():
        raise _refused(jwt.ImmatureSignatureError())
    try:
        role = Role(claims.get("role"))
        unit_id = claims.get("unit") or None
        _check_unit(role, unit_id)
    except ValueError:
        raise Unauthenticated("the token names no valid role or unit",
                              "mã truy cập không ghi vai trò hoặc đơn vị hợp lệ") from None
    if store is not None and not store.token_active(str(claims["jti"])):
        raise Unauthenticated("the token has been revoked", "mã truy cập đã bị thu hồi")
    return Principal(subject=str(claims["sub"]), role=role, unit_id=unit_id, scopes=POLICY[role].actions,
                     token_id=str(claims["jti"]))


# --- API keys --------------------------------------------------------------------------------------
# The secret part is 32 random bytes from `secrets`: 256 bits cannot be guessed, so a slow password hash
# (scrypt, argon2) would add nothing but ~50 ms of CPU to every machine request. A salted SHA-256 is what
# is stored; the salt (per key) keeps equal secrets from having equal rows, and the comparison is
# constant-time. A leaked table gives nothing usable.


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def create_api_key(store: AuthStore, name: str, scopes: Iterable[str], *, role: Role = Role.CITY_STAFF,
                   unit_id: str | None = None, now: dt.datetime | None = None) -> tuple[str, str]:
    """A new key for a machine client: (key_id, the key to hand over once). Only its hash is stored.

    The key acts as `role` in `unit_id`, restricted to `scopes` (actions the role holds).
    """
    scopes = frozenset(scopes)
    if not scopes:
        raise ValueError("cần ít nhất một phạm vi / at least one scope (--scope) is needed")
    _check_unit(role, unit_id)
    unknown = scopes - ACTIONS
    if unknown:
        raise ValueError(f"phạm vi không tồn tại / unknown scopes: {', '.join(sorted(unknown))} "
                         f"(one of: {', '.join(sorted(ACTIONS))})")
    beyond = scopes - POLICY[role].actions
    if beyond:
        raise ValueError(f"phạm vi ngoài quyền của vai trò / scopes beyond the role {role.value}: "
                         f"{', '.join(sorted(beyond))} (allowed: {', '.join(sorted(POLICY[role].actions))})")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    store.add_api_key(key_id, name, role, unit_id, scopes, salt, _digest(salt, secret),
                      now or dt.datetime.now(dt.UTC))
    return key_id, f"{API_KEY_PREFIX}_{key_id}_{secret}"


def verify_api_key(presented: str, *, store: AuthStore) -> Principal:
    """The machine client a presented key belongs to, or Unauthenticated (unknown, wrong or revoked)."""
    refused = Unauthenticated("the API key is not valid", "khóa API không hợp lệ")
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != API_KEY_PREFIX or not key_id or not secret:
        raise refused
    row = store.api_key(key_id)
    if row is None or not hmac.compare_digest(_digest(row["salt"], secret), row["hash"]):
        raise refused
    if row["revoked_at"] is not None:
        raise Unauthenticated("the API key has been revoked", "khóa API đã bị thu hồi")
    return Principal(subject=f"apikey:{row['name']}", role=Role(row["role"]), unit_id=row["unit_id"],
                     scopes=frozenset(row["scopes"].split()), token_id=key_id)


class ServiceCredential:
    """A service's own bearer token for its calls to the other services (a consumer's gap filling).

    Minted with the shared secret, recorded in the auth store like any token (so it can be revoked and is
    visible), `ttl` long, renewed when half of it has passed. Identity comes from this signed token, never
    from nameko's unsigned context headers."""

    def __init__(self, service: str, settings: AuthSettings, store: AuthStore,
                 ttl: dt.timedelta = dt.timedelta(hours=1)):
        self.subject = f"service:{service}"
        self.settings, self.store, self.ttl = settings, store, ttl
        self._token: str | None = None
        self._renew_at = dt.datetime.min.replace(tzinfo=dt.UTC)

    def header(self) -> dict[str, str]:
        now = dt.datetime.now(dt.UTC)
        if self._token is None or now >= self._renew_at:
            self._token = issue_token(self.subject, Role.SERVICE, None, secret=self.settings.secret,
                                      issuer=self.settings.issuer, audience=self.settings.audience, ttl=self.ttl,
                                      store=self.store, now=now, machine=True)
            self._renew_at = now + self.ttl / 2
        return {"Authorization": f"Bearer {self._token}"}


def verify_credential(presented: str, *, settings: AuthSettings, store: AuthStore) -> Principal:
    """The principal behind an `Authorization: Bearer ...` value: an API key (`chibo_...`) or a token."""
    if presented.startswith(API_KEY_PREFIX + "_"):
        return verify_api_key(presented, store=store)
    return verify_token(presented, secret=settings.secret, issuer=settings.issuer, audience=settings.audience,
                        store=store)


# --- settings --------------------------------------------------------------------------------------


class AuthConfigError(Exception):
    """The auth settings are unsafe or incomplete; the process must not start."""


@dataclass(frozen=True)
class AuthSettings:
    secret: str
    issuer: str
    audience: str


def auth_settings(config: dict[str, Any], *, embedded: bool = False) -> AuthSettings:
    """CHIBO.jwt_* of a service config. Outside the embedded demo the demo secret is refused unless
    CHIBO.allow_demo_secret (env CHIBO_ALLOW_DEMO_SECRET=true) says so explicitly."""
    chibo = config.get("CHIBO") or {}
    secret = str(chibo.get("jwt_secret") or DEMO_SECRET)
    settings = AuthSettings(secret=secret, issuer=str(chibo.get("jwt_issuer") or "chibo"),
                            audience=str(chibo.get("jwt_audience") or "chibo-api"))
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise AuthConfigError(f"CHIBO_JWT_SECRET is too short: {MIN_SECRET_BYTES} bytes at least "
                              "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
    if secret == DEMO_SECRET and not embedded and chibo.get("allow_demo_secret") is not True:
        raise AuthConfigError(
            "REFUSED: the distributed configuration uses the public demo JWT secret; anyone could sign tokens. "
            "Set CHIBO_JWT_SECRET (from a secret store), or CHIBO_ALLOW_DEMO_SECRET=true for a local trial.\n"
            "TỪ CHỐI: cấu hình phân tán đang dùng khóa JWT mẫu công khai; hãy đặt CHIBO_JWT_SECRET.")
    return settings
