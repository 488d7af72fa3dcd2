"""The member register for ward staff: search (diacritics optional), admit, confirm, exempt, transfer, remove,
and the spreadsheet import with its dry-run report."""

from __future__ import annotations

import uuid
from typing import Any

from werkzeug.wrappers import Response

from services.web import text
from services.web.api import ApiError
from services.web.dashboard import today_vn
from services.web.site import Page, form_errors, redirect

EXEMPT_REASONS = ("age", "health", "long_treatment", "work_abroad", "other")
REMOVE_REASONS = ("struck_off", "expelled", "deceased", "moved_away")
REASONS_VI = {"age": "tuổi cao", "health": "sức khỏe", "long_treatment": "điều trị dài ngày",
              "work_abroad": "công tác nước ngoài", "other": "lý do khác", "struck_off": "xóa tên",
              "expelled": "khai trừ", "deceased": "từ trần", "moved_away": "chuyển đi"}


def cells_of(page: Page, unit_id: str) -> list[dict[str, Any]]:
    units = page.api.get("members", f"/units/{unit_id}/children")["units"]
    return sorted([u for u in units if u["kind"] == "cell" and not u.get("ended_on")],
                  key=lambda u: text.sort_key(u["name"]))


def register(page: Page, errors: dict[str, str] | None = None, report: Any = None, status: int = 200) -> Response:
    assert page.session is not None
    unit = page.request.args.get("unit") or page.request.form.get("unit") or page.session.principal.unit_id or ""
    query = (page.request.args.get("q") or "").strip()
    cells = cells_of(page, unit) if unit else []
    people = []
    for cell in cells:
        for m in page.api.get("members", f"/cells/{cell['id']}/roster")["members"]:
            people.append({**m, "cell": cell["name"]})
    if query:
        needle = text.fold(query)
        people = [p for p in people if needle in text.fold(f"{p['full_name']} {p['code']}")]
    people.sort(key=lambda p: text.name_key(p["full_name"]))
    return page.render("members.html", status=status, unit=unit, cells=cells, people=people, query=query,
                       errors=errors or {}, form=page.request.form if errors else {}, report=report,
                       key=uuid.uuid4().hex, today=today_vn().isoformat())


def admit(page: Page) -> Response:
    f = page.request.form
    body: dict[str, Any] = {k: f.get(k, "") for k in ("code", "full_name", "cell_id", "admitted_on")}
    body["status"] = f.get("status", "probationary")
    if f.get("official_since"):
        body["official_since"] = f["official_since"]
    try:
        member = page.api.post("members", "/members", body, key=f.get("key"))
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        return register(page, errors=form_errors(exc), status=422)
    return redirect(f"/web/members/{member['id']}")


def member_page(page: Page, member_id: str, action: str = "", errors: dict[str, str] | None = None,
                status: int = 200) -> Response:
    member = page.api.get("members", f"/members/{member_id}")
    ward = page.request.args.get("unit") or (page.session.principal.unit_id if page.session else None)
    cells = cells_of(page, ward) if ward else []
    return page.render("member.html", status=status, m=member, cells=cells, action=action, errors=errors or {},
                       form=page.request.form if errors else {}, key=uuid.uuid4().hex,
                       today=today_vn().isoformat(), exempt_reasons=EXEMPT_REASONS, remove_reasons=REMOVE_REASONS,
                       reason_label=lambda r: REASONS_VI.get(r, r) if page.lang == "vi" else r.replace("_", " "))


ACTIONS = {
    "confirm": ("official_since",),
    "exempt": ("reason", "note", "effective_from"),
    "transfer": ("to_cell_id", "kind", "effective_from", "until"),
    "remove": ("reason", "note", "effective_from"),
}


def member_action(page: Page, member_id: str, action: str) -> Response:
    if action not in ACTIONS:
        return page.message("not_found", 404)
    f = page.request.form
    body = {k: f.get(k, "") for k in ACTIONS[action] if f.get(k, "") != "" or k not in ("until", "note")}
    try:
        page.api.post("members", f"/members/{member_id}/{action}", body, key=f.get("key"))
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return member_page(page, member_id, action=action, errors=form_errors(exc), status=422)
    return redirect(f"/web/members/{member_id}?done={action}")


def import_sheet(page: Page) -> Response:
    upload = page.request.files.get("file")
    apply = page.request.form.get("mode") == "apply"
    unit = page.request.form.get("unit", "")
    if upload is None or not upload.filename:
        return register(page, errors={"file": page.t("choose_file")}, status=422)
    try:
        report = page.api.upload("members", "/imports", upload.filename, upload.read(), upload.mimetype,
                                 ward=unit, dry_run="false" if apply else "true")
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        return register(page, errors=form_errors(exc), report=exc.body, status=422)
    return register(page, report=report)
