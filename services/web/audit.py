"""The audit view: the event history of a member, a meeting or a unit, with who recorded what and when.

Auditors read the reporting service's audit trails (events:read, city-wide); ward and district staff and
secretaries read the same events from the service that recorded them (members:read / meetings:read), each
within their own unit."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from services.web.site import Page

KINDS = {"member": ("members", "/members/{}/history", "/members/{}/events"),
         "meeting": ("meetings", "/meetings/{}/history", "/meetings/{}/events"),
         "unit": ("members", "/units/{}/history", "/units/{}/events")}


def index(page: Page) -> Response:
    kind = page.request.args.get("kind", "")
    ident = page.request.args.get("id", "").strip()
    if kind in KINDS and ident:
        from services.web.site import redirect

        return redirect(f"/web/audit/{kind}/{ident}")
    return page.render("audit.html", kind="", ident="", events=[], kinds=list(KINDS))


def history(page: Page, kind: str, ident: str) -> Response:
    if kind not in KINDS:
        return page.message("not_found", 404)
    service, own, trail = KINDS[kind]
    events: list[dict[str, Any]]
    if page.may("events:read"):
        events = page.api.get("reporting", trail.format(ident), page_size=1000)["items"]
    else:
        answer = page.api.get(service, own.format(ident))
        events = answer if isinstance(answer, list) else (answer.get("events") or answer.get("items") or [])
    rows = [{"type": e.get("type") or e.get("topic", ""), "recorded_by": e.get("recorded_by", ""),
             "recorded_at": e.get("recorded_at") or e.get("timestamp") or "",
             "occurred_at": e.get("occurred_at") or "", "correlation_id": e.get("correlation_id", "")}
            for e in events]
    return page.render("audit.html", kind=kind, ident=ident, events=rows, kinds=list(KINDS))
