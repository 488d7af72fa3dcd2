"""The HTTP adapter of the register import: a werkzeug request (raw body or multipart field `file`, size limit,
flags) to `import_register`; the nameko route only delegates here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.members.application import MembersApplication
from services.members.register_import import MAX_BYTES, import_register, resolve_ward, too_large
from services.members.register_sheet import ImportRefused
from shared import i18n
from shared.errors import DomainError

# --- HTTP adapter (a werkzeug request; the nameko route only delegates here) ---------------------------


def import_request(app: MembersApplication, request: Any, correlation_id: str, *, by: str,
                   guard: Callable[[Any], None], max_bytes: int = MAX_BYTES) -> tuple[int, dict[str, Any]]:
    """POST /members/imports?ward=&dry_run=true|false&skip_invalid=false with the file as the raw body or as the
    multipart field `file`: (200, report), (422, refusal with the report), or a DomainError.

    `by` is the authenticated caller; `guard(ward)` refuses a ward outside the caller's reach (before the file
    is read)."""
    # The route's worker greenthread does not share the HTTP thread's context: negotiate again here.
    lang = i18n.negotiate(request.args.get("lang"), request.headers.get("Accept-Language"))
    if (request.content_length or 0) > max_bytes:
        raise too_large(max_bytes)
    guard(resolve_ward(app, request.args.get("ward")))
    dry_run = _flag(request, "dry_run", True)
    skip_invalid = _flag(request, "skip_invalid", False)
    filename = None
    content_type = request.mimetype
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise DomainError("file", "is required: send the register as the form field \"file\"",
                              rule="missing", vi="bắt buộc: gửi tệp sổ đảng viên trong trường \"file\"")
        data, filename, content_type = upload.read(max_bytes + 1), upload.filename, upload.mimetype
    else:
        data = request.stream.read(max_bytes + 1)
    try:
        report = import_register(app, data, ward=request.args.get("ward"), dry_run=dry_run,
                                 skip_invalid=skip_invalid, by=by, correlation_id=correlation_id,
                                 content_type=content_type, filename=filename, max_bytes=max_bytes)
    except ImportRefused as refused:
        return 422, refused.body(lang)
    return 200, report.to_json(lang)


def _flag(request: Any, name: str, default: bool) -> bool:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise DomainError(name, f"must be true or false, not {raw!r}", rule="bool_parsing",
                      vi=f"phải là true hoặc false, không phải {raw!r}")
