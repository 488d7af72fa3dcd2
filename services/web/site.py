"""What every page shares: the signed-in user, the language, the API client, the templates, the errors.

Framework-free (werkzeug requests and responses): service.py binds these to nameko's HTTP entrypoints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import requests
from werkzeug.wrappers import Request, Response

from services.web import text
from services.web.api import Api, ApiError
from services.web.session import LANG_COOKIE, Session, Sessions, csrf_ok, csrf_token, ensure_csrf
from shared import i18n
from shared.auth import POLICY, Role

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

# Where each role lands after signing in, and which sections its navigation shows (by the actions it holds).
NAV = (("dashboard", "reports:read", "/web/dashboard"), ("members", "members:write", "/web/members"),
       ("audit", "events:read", "/web/audit"))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)  # API answers omit empty keys: lenient
    env.globals.update(figure_label=text.figure_label, quote=quote)
    return env


@dataclass
class Page:
    """One request's context: who, in which language, and how to reach the APIs as them."""

    request: Request
    site: Site
    session: Session | None
    lang: str

    @property
    def api(self) -> Api:
        assert self.session is not None
        return Api(self.site.urls, self.session.token, self.lang, self.site.http)

    @property
    def role(self) -> Role | None:
        return self.session.role if self.session else None

    def may(self, action: str) -> bool:
        return self.session is not None and action in POLICY[self.session.role].actions

    def t(self, key: str, **values: Any) -> str:
        return text.t(key, self.lang, **values)

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        lang = self.lang
        nav = [(self.t(key), url) for key, action, url in NAV if self.may(action)]
        if self.role is Role.CELL_SECRETARY and self.session and self.session.principal.unit_id:
            nav.insert(0, (self.t("cell"), f"/web/cells/{self.session.principal.unit_id}"))
        other = "en" if lang == "vi" else "vi"
        here = self.request.full_path.rstrip("?")
        html = self.site.env.get_template(template).render(
            page=self, lang=lang, t=self.t, nav=nav, csrf=csrf_token(self.request),
            user=self.session.principal if self.session else None,
            role_label=(self.role.label_vi if lang == "vi" else self.role.label_en) if self.role else "",
            switch_url=f"/web/lang?{urlencode({'to': other, 'next': here})}",
            num=lambda v, d=0: text.number(v, lang, d), pct=lambda r: text.percent(r, lang),
            date=lambda v: text.date(v, lang), when=lambda v: text.when(v, lang),
            term=lambda v: text.term(v, lang), event_name=lambda v: text.event_name(v, lang), **values)
        response = Response(html, status=status, mimetype="text/html")
        ensure_csrf(self.request, response, self.site.sessions.secure)
        return response

    def message(self, key: str, status: int, detail: str = "") -> Response:
        return self.render("message.html", status=status, title=self.t(key), detail=detail)


def redirect(url: str, status: int = 303) -> Response:
    return Response("", status=status, headers={"Location": url})


def language(request: Request) -> str:
    """Vietnamese unless the user switched (the cookie) or the address asks (`?lang=en`)."""
    chosen = (request.args.get("lang") or request.cookies.get(LANG_COOKIE) or "").lower()
    return chosen if chosen in i18n.LANGUAGES else i18n.DEFAULT


class Site:
    def __init__(self, sessions: Sessions, urls: dict[str, str]):
        self.sessions, self.urls = sessions, urls
        self.env = environment()
        self.http = requests.Session()  # connection reuse to the APIs (one process, many greenthreads)

    def page(self, request: Request) -> Page:
        return Page(request, self, self.sessions.current(request), language(request))

    def run(self, request: Request, view: Callable[..., Response], *, public: bool = False,
            **args: Any) -> Response:
        """Run a view: signed in (else to the sign-in page), CSRF-checked on POST, API refusals as pages."""
        started = time.perf_counter()
        page = self.page(request)
        if page.session is None and not public:  # back here after signing in (a form's POST: to the home page)
            back = request.full_path.rstrip("?") if request.method == "GET" else "/web/"
            return redirect(f"/web/sign-in?{urlencode({'next': back})}")
        if request.method == "POST" and not csrf_ok(request):
            return page.message("csrf", 400)
        try:
            response = view(page, **args)
        except ApiError as exc:
            if exc.status == 401:
                return redirect("/web/sign-in")
            key = {403: "forbidden", 404: "not_found"}.get(exc.status, "failed" if exc.status >= 500 else "")
            response = page.message(key or "bad_request", exc.status, exc.message)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Content-Security-Policy", (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self';"
            " frame-ancestors 'none'"))
        response.headers["Server-Timing"] = f"page;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response


def static_file(name: str) -> Response:
    kinds = {".css": "text/css", ".js": "text/javascript", ".png": "image/png", ".svg": "image/svg+xml"}
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file() or path.suffix not in kinds:
        return Response("not found", status=404, mimetype="text/plain")
    return Response(path.read_bytes(), mimetype=kinds[path.suffix],
                    headers={"Cache-Control": "public, max-age=3600"})


def form_errors(exc: ApiError) -> dict[str, str]:
    """The API's refused fields by the form input they belong to (`present.0` -> `present`)."""
    found: dict[str, str] = {}
    for f in exc.fields:
        name = str(f.get("field") or "").split(".")[0] or "_"
        found.setdefault(name, str(f.get("message") or exc.message))
    if not found:
        found["_"] = exc.message
    return found
