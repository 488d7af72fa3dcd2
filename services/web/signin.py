"""Sign-in, sign-out, the language switch and each role's home page."""

from __future__ import annotations

from urllib.parse import urlparse

from werkzeug.wrappers import Request, Response

from services.web.session import LANG_COOKIE, SignInRefused, retry_seconds
from services.web.site import Page, redirect
from shared.auth import Role
from shared.i18n import LANGUAGES


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host): a sign-in link cannot send the user elsewhere."""
    if not target:
        return "/web/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target[:2] in ("//", "/\\"):
        return "/web/"
    return target


def home(page: Page) -> Response:
    assert page.session is not None
    principal = page.session.principal
    if page.role is Role.CELL_SECRETARY:
        return redirect(f"/web/cells/{principal.unit_id}")
    if page.may("reports:read"):
        return redirect("/web/dashboard")
    if page.may("events:read"):
        return redirect("/web/audit")
    return page.message("no_pages", 200)


def form(page: Page, error: str = "", status: int = 200) -> Response:
    return page.render("sign_in.html", status=status, error=error,
                       next=safe_next(page.request.args.get("next") or page.request.form.get("next")),
                       username=page.request.form.get("username", ""))


def submit(page: Page) -> Response:
    f = page.request.form
    try:
        if f.get("token", "").strip():
            token = page.site.sessions.accept_token(page.request, f["token"])
        else:
            token = page.site.sessions.sign_in(page.request, f.get("username", ""), f.get("password", ""))
    except SignInRefused as refused:
        message = page.t(refused.key, s=retry_seconds(refused.wait))
        if refused.detail and page.lang == "vi":
            message += f": {refused.detail}"
        return form(page, error=message, status=429 if refused.key == "throttled" else 401)
    response = redirect(safe_next(f.get("next")))
    page.site.sessions.set_session(response, token)
    return response


def sign_out(page: Page) -> Response:
    page.site.sessions.sign_out(page.session)
    response = redirect("/web/sign-in")
    page.site.sessions.clear_session(response)
    return response


def switch_language(request: Request) -> Response:
    lang = request.args.get("to", "vi")
    response = redirect(safe_next(request.args.get("next")), 303)
    response.set_cookie(LANG_COOKIE, lang if lang in LANGUAGES else "vi", max_age=365 * 86400, samesite="Strict",
                        path="/")
    return response
