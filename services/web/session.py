"""Signing in and staying signed in: the user's JWT in an HttpOnly, SameSite=Strict cookie, CSRF tokens on
every form, a throttle on password attempts.

The cookie holds the platform's own token (shared/auth.py), issued at sign-in and revoked at sign-out, so a
page's API calls carry exactly the user's rights. CSRF: the double-submit pattern: a random `chibo_csrf`
cookie (SameSite=Strict, not HttpOnly-dependent) and the same value in each form's hidden `csrf` field; a
POST whose two do not match is refused. A cross-site page can neither read the cookie nor make the browser
send it (SameSite=Strict), so it cannot forge the pair.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from werkzeug.wrappers import Request, Response

from shared.accounts import check_password
from shared.auth import AuthSettings, AuthStore, Principal, Role, issue_token, verify_credential
from shared.errors import DomainError
from shared.ratelimit import Limit, RateLimiter

SESSION_COOKIE = "chibo_session"
CSRF_COOKIE = "chibo_csrf"
LANG_COOKIE = "chibo_lang"
SESSION_TTL = dt.timedelta(hours=8)  # a working day; sign in again after
# Password attempts: per user name 5 at once, then one every 12 s; per client address (an office behind one
# router) 30 at once, then one every 2 s.
USER_LIMIT = Limit(rate=1 / 12, burst=5)
ADDRESS_LIMIT = Limit(rate=0.5, burst=30)


@dataclass(frozen=True)
class Session:
    token: str
    principal: Principal

    @property
    def role(self) -> Role:
        return self.principal.role


class SignInRefused(Exception):
    """Wrong user name or password (never which), a bad pasted token, or too many attempts."""

    def __init__(self, key: str, wait: float = 0.0, detail: str = ""):
        super().__init__(key)
        self.key, self.wait, self.detail = key, wait, detail


class Sessions:
    def __init__(self, settings: AuthSettings, store: AuthStore, secure: bool = False):
        self.settings, self.store, self.secure = settings, store, secure
        self.limiter = RateLimiter()
        # Tokens signed out here: refused at once (the store's read cache would accept them a few seconds more;
        # the APIs themselves refuse them within CHIBO.auth_cache_seconds). Bounded: an old entry has expired.
        self.signed_out: dict[str, None] = {}

    def current(self, request: Request) -> Session | None:
        """The signed-in user of a request, or None (no cookie, an expired or revoked token)."""
        token = request.cookies.get(SESSION_COOKIE, "")
        if not token:
            return None
        try:
            principal = verify_credential(token, settings=self.settings, store=self.store)
        except DomainError:
            return None
        return None if principal.token_id in self.signed_out else Session(token, principal)

    def _throttle(self, *keys: str) -> None:
        waits = [self.limiter.take(k, USER_LIMIT if k.startswith("user:") else ADDRESS_LIMIT) for k in keys]
        if max(waits) > 0:
            raise SignInRefused("throttled", wait=max(waits))

    def sign_in(self, request: Request, username: str, password: str) -> str:
        """A new token for the account, or SignInRefused."""
        self._throttle(f"user:{username.strip().casefold()}", f"addr:{request.remote_addr}")
        account = check_password(self.store, username, password)
        if account is None:
            raise SignInRefused("bad_login")
        return issue_token(account.username, account.role, account.unit_id, secret=self.settings.secret,
                           issuer=self.settings.issuer, audience=self.settings.audience, ttl=SESSION_TTL,
                           store=self.store)

    def accept_token(self, request: Request, token: str) -> str:
        """A pasted token (`chibo token issue`, the demo's): kept when it is valid here and held by a person."""
        self._throttle(f"addr:{request.remote_addr}")
        try:
            principal = verify_credential(token.strip(), settings=self.settings, store=self.store)
        except DomainError as exc:
            raise SignInRefused("bad_token", detail=exc.message_in("vi")) from None
        if principal.role is Role.SERVICE:
            raise SignInRefused("bad_token")
        return token.strip()

    def sign_out(self, session: Session | None) -> None:
        if session is not None:
            self.store.revoke_token(session.principal.token_id)
            self.signed_out[session.principal.token_id] = None
            if len(self.signed_out) > 100_000:
                del self.signed_out[next(iter(self.signed_out))]

    def set_session(self, response: Response, token: str) -> None:
        response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()), httponly=True,
                            samesite="Strict", secure=self.secure, path="/")

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=self.secure)


def csrf_token(request: Request) -> str:
    """The request's CSRF value (the cookie's, or a new one the response must set: `ensure_csrf`)."""
    found = request.cookies.get(CSRF_COOKIE, "")
    if len(found) >= 32:
        return found
    if not hasattr(request, "new_csrf"):
        request.new_csrf = secrets.token_urlsafe(32)
    return str(request.new_csrf)


def ensure_csrf(request: Request, response: Response, secure: bool = False) -> None:
    new = getattr(request, "new_csrf", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="Strict", secure=secure, path="/")


def csrf_ok(request: Request) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.form.get("csrf", "")
    return len(cookie) >= 32 and hmac.compare_digest(cookie, sent)


def retry_seconds(wait: float) -> int:
    import math

    return max(1, math.ceil(wait))
