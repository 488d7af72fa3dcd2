"""People's sign-in accounts for the web app: a user name, a role in a unit, and a password kept as a hash.

The platform's credentials stay its JWTs (shared/auth.py): signing in with a password only proves who asks for
one. The hash is scrypt (stdlib `hashlib.scrypt`, memory-hard, RFC 7914) with a per-account salt; the
parameters below cost ~50 ms and 16 MiB per attempt, which with the web app's per-name and per-address
throttle makes guessing slow. An unknown user name costs the same hash as a wrong password, so the answer's
timing does not tell whether an account exists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from shared.auth import AuthStore, Role, _check_unit

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8
_DUMMY_SALT = "00" * 16  # hashed against when the user name is unknown (same cost as a wrong password)


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    unit_id: str | None


def password_hash(salt: str, password: str) -> str:
    return hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                          maxmem=64 * 1024 * 1024, dklen=32).hex()


def add_account(store: AuthStore, username: str, password: str, role: Role, unit_id: str | None,
                now: dt.datetime | None = None) -> Account:
    """Create (or reset) an account; ValueError naming the problem when the name or the password will not do."""
    username = username.strip()
    if not 1 <= len(username) <= 100 or any(c.isspace() for c in username):
        raise ValueError("tên đăng nhập phải dài 1–100 ký tự, không có khoảng trắng / "
                         "the user name must be 1-100 characters without spaces")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự / "
                         f"the password must have at least {MIN_PASSWORD} characters")
    if role is Role.SERVICE:
        raise ValueError("vai trò service dành cho khóa API / the service role is for API keys, not people")
    _check_unit(role, unit_id)
    salt = secrets.token_hex(16)
    store.put_account(username, role, unit_id, salt, password_hash(salt, password), now or dt.datetime.now(dt.UTC))
    return Account(username, role, unit_id)


def check_password(store: AuthStore, username: str, password: str) -> Account | None:
    """The account when the password is right; None when it is wrong or there is no such user (same cost)."""
    row = store.account(username.strip())
    digest = password_hash(row["salt"] if row else _DUMMY_SALT, password)
    if row is None or not hmac.compare_digest(digest, row["hash"]):
        return None
    return Account(row["username"], Role(row["role"]), row["unit_id"])


def new_password() -> str:
    """A password for a generated account (the demo's): 12 characters, easy to type."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))
