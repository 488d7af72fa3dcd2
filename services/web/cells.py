"""The cell page (calendar, roster, open resolutions, flagged members) and the meeting recording forms of a
cell secretary: schedule, hold, attendance, agenda, speakers, resolutions, reviews, close, minutes.

Each form posts here; the page turns it into the meetings API's command body and shows the API's refusal, in
the user's language, next to the fields it names. Every form carries an idempotency key, so a form sent twice
(a double tap on a phone) records once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from werkzeug.wrappers import Response

from services.web import text
from services.web.api import ApiError
from services.web.dashboard import today_vn
from services.web.site import Page, form_errors, redirect

AGENDA = ("opening", "news_and_policy", "review_and_follow_up", "ho_chi_minh_study", "discussion",
          "praise_and_criticism", "next_month_tasks", "conclusion_and_vote", "minutes_read")
OUTCOMES = ("implemented", "partly", "not_implemented")
KINDS = ("regular", "thematic", "combined")
RESOLUTION_KINDS = ("ordinary", "admission", "confirmation")


def open_resolutions(page: Page, cell_id: str, meetings: list[dict[str, Any]], since: dt.date,
                     exclude: str | None = None) -> list[dict[str, Any]]:
    """Resolutions adopted in the cell's meetings since `since` that no later meeting has reviewed yet."""
    passed: dict[str, dict[str, Any]] = {}
    reviewed: set[str] = set()
    for m in meetings:
        if m["status"] not in ("held", "closed") or dt.date.fromisoformat(m["date"]) < since:
            continue
        view = page.api.get("meetings", f"/meetings/{m['id']}")
        for r in view.get("resolutions") or []:
            if r.get("adopted", True) and m["id"] != exclude:
                passed[str(r["resolution_id"])] = {**r, "meeting_id": m["id"], "date": m["date"]}
        reviewed |= {str(r["resolution_id"]) for r in view.get("reviews") or []}
    return [r for rid, r in passed.items() if rid not in reviewed]


def cell_page(page: Page, cell_id: str, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    unit = page.api.get("members", f"/units/{cell_id}")
    meetings = page.api.get("meetings", f"/cells/{cell_id}/meetings")["meetings"]
    roster = page.api.get("meetings", f"/cells/{cell_id}/roster")
    today = today_vn()
    pending = open_resolutions(page, cell_id, meetings, today - dt.timedelta(days=400))
    flagged: list[dict[str, Any]] = []
    if page.may("reports:read"):
        flagged = page.api.get("reporting", "/compliance/member-years", unit=cell_id, year=str(today.year),
                               flagged="true")["items"]
    by_month: dict[str, list[dict[str, Any]]] = {}
    for m in sorted(meetings, key=lambda m: m["date"], reverse=True):
        by_month.setdefault(m["date"][:7], []).append(m)
    return page.render("cell.html", status=status, unit=unit, cell_id=cell_id, by_month=by_month,
                       roster=sorted(roster["members"], key=lambda m: text.name_key(m["full_name"])),
                       pending=pending, flagged=flagged, may_write=page.may("meetings:write"),
                       errors=errors or {}, form=page.request.form if errors else {}, kinds=KINDS,
                       today=today.isoformat(), key=uuid.uuid4().hex, may_audit=page.may("members:read"))


def schedule(page: Page, cell_id: str) -> Response:
    f = page.request.form
    body = {"cell_id": cell_id, "kind": f.get("kind", "regular"), "date": f.get("date", ""),
            "start_time": f.get("start_time", ""), "place": f.get("place", "")}
    if f.get("topic", "").strip():
        body["topic"] = f["topic"]
    try:
        meeting = page.api.post("meetings", "/meetings/schedule", body, key=f.get("key"))
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return cell_page(page, cell_id, errors=form_errors(exc), status=422)
    return redirect(f"/web/meetings/{meeting['id']}")


def meeting_page(page: Page, meeting_id: str, step: str = "", errors: dict[str, str] | None = None,
                 status: int = 200, done: str = "") -> Response:
    view = page.api.get("meetings", f"/meetings/{meeting_id}")
    cell_id = view["cell_id"]
    people = view["roster"] or view["summoned"]
    names = {p["member_id"]: p["full_name"] for p in [*people, *view.get("temporary_participants", [])]}
    covered = {a["step"] for a in view.get("agenda") or []}
    pending: list[dict[str, Any]] = []
    if view["status"] == "held" and page.may("meetings:write"):
        meetings = page.api.get("meetings", f"/cells/{cell_id}/meetings")["meetings"]
        since = dt.date.fromisoformat(view["date"]) - dt.timedelta(days=400)
        pending = [r for r in open_resolutions(page, cell_id, meetings, since, exclude=meeting_id)
                   if r["date"] < view["date"]]
    attendance = view.get("attendance") or {}
    return page.render("meeting.html", status=status, m=view, names=names, people=people,
                       attendees=[p for p in people if (attendance.get(p["member_id"]) or {}).get("present")],
                       covered=covered, agenda=AGENDA, outcomes=OUTCOMES, resolution_kinds=RESOLUTION_KINDS,
                       pending=pending, step=step, errors=errors or {}, form=page.request.form if errors else {},
                       may_write=page.may("meetings:write"), key=uuid.uuid4().hex, done=done,
                       now=dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=7))))


def _ints(value: str) -> Any:
    """A number field as the API should see it: a whole number, or the text as typed (the API names the error)."""
    value = value.strip()
    return int(value) if value.isdigit() else value


def step_body(step: str, form: Any, view_roster: list[str]) -> dict[str, Any]:
    """The meetings API's command body for a form."""
    if step == "hold":
        body = {k: form.get(k, "") for k in ("date", "start_time", "end_time", "place")}
        for k in ("chair_id", "minute_taker_id"):
            if form.get(k):
                body[k] = form[k]
        return body
    if step == "attendance":
        present, absent = [], []
        for member_id in view_roster:
            mark = form.get(f"att_{member_id}", "")
            if mark == "present":
                present.append(member_id)
            elif mark in ("excused", "unexcused"):
                absent.append({"member_id": member_id, "excused": mark == "excused",
                               "reason": form.get(f"reason_{member_id}", "")})
        return {"present": present, "absent": absent}
    if step == "agenda-steps":
        return {"steps": [{"step": s, "note": form.get(f"note_{s}", "")} for s in AGENDA
                          if s in form.getlist("step")]}
    if step == "speakers":
        return {"speakers": [{"member_id": form.get("member_id", ""), "gist": form.get("gist", "")}]}
    if step == "resolutions":
        return {"text": form.get("text", ""), "kind": form.get("kind", "ordinary"),
                "votes_for": _ints(form.get("votes_for", "")), "votes_against": _ints(form.get("votes_against", "")),
                "abstentions": _ints(form.get("abstentions", "")), "voters": form.getlist("voters")}
    if step == "reviews":
        return {"resolution_id": form.get("resolution_id", ""), "outcome": form.get("outcome", ""),
                "note": form.get("note", "")}
    if step == "cancel":
        return {"reason": form.get("reason", "")}
    return {}


STEPS = ("hold", "attendance", "agenda-steps", "speakers", "resolutions", "reviews", "close", "cancel")


def meeting_step(page: Page, meeting_id: str, step: str) -> Response:
    if step not in STEPS:
        return page.message("not_found", 404)
    form = page.request.form
    roster: list[str] = []
    if step == "attendance":
        view = page.api.get("meetings", f"/meetings/{meeting_id}")
        roster = [p["member_id"] for p in [*view["roster"], *view.get("temporary_participants", [])]]
    try:
        page.api.post("meetings", f"/meetings/{meeting_id}/{step}", step_body(step, form, roster),
                      key=form.get("key"))
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return meeting_page(page, meeting_id, step=step, errors=form_errors(exc), status=422)
    return redirect(f"/web/meetings/{meeting_id}?done={step}#{step}")


def minutes(page: Page, meeting_id: str, fmt: str) -> Response:
    if fmt not in ("html", "docx"):
        return page.message("not_found", 404)
    r = page.api.download("meetings", f"/meetings/{meeting_id}/minutes", format=fmt)
    headers = {"Content-Type": r.headers.get("Content-Type", "text/html")}
    if fmt == "docx":
        headers["Content-Disposition"] = r.headers.get("Content-Disposition", "attachment")
    # the minutes are the meetings service's own document (its inline print styles), not one of our pages
    headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return Response(r.content, headers=headers)
