"""Vietnamese is the default language of the API's answers; English on request."""

import ast
import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.members.schemas import CreateUnit
from shared import i18n
from shared.errors import DomainError
from shared.web import error_body

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [(None, None, "vi"), ("en", None, "en"), (None, "en-GB,en;q=0.9", "en"), (None, "fr, vi;q=0.5", "vi"),
     ("vi", "en", "vi"), ("xx", "de", "vi")],
)
def test_language_negotiation(query, header, expected):
    assert i18n.negotiate(query, header) == expected


def test_domain_errors_answer_in_vietnamese_by_default():
    exc = DomainError("date", "cannot be in the future", rule="date.not_future", vi="không thể là ngày trong tương lai")
    status, body = error_body(exc)
    assert status == 422 and body["fields"][0] == {"field": "date", "message": "không thể là ngày trong tương lai",
                                                   "rule": "date.not_future"}
    assert error_body(exc, "en")[1]["message"] == "cannot be in the future"


def test_validation_errors_are_translated_by_type():
    with pytest.raises(ValidationError) as err:
        CreateUnit.model_validate({"kind": "planet", "name": "", "code": "C"})
    _, body = error_body(err.value, "vi")
    messages = {f["field"]: f["message"] for f in body["fields"]}
    assert messages["effective_from"] == "bắt buộc phải có"
    assert messages["name"] == "quá ngắn (ít nhất 1 ký tự)"
    assert messages["kind"].startswith("phải là một trong:")
    _, english = error_body(err.value, "en")
    assert {f["field"]: f["message"] for f in english["fields"]}["effective_from"] == "Field required"


def test_vietnamese_dates():
    assert i18n.vn_date(dt.date(2026, 1, 5)) == "05/01/2026"


def _error_calls():
    for path in [*ROOT.joinpath("services").rglob("*.py"), ROOT / "shared" / "web.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("DomainError", "NotFound", "Conflict"):
                yield f"{path.relative_to(ROOT)}:{node.lineno}", node


def test_every_refusal_in_the_code_has_its_vietnamese_text():
    calls = list(_error_calls())
    assert len(calls) > 30  # the scan does find the raise sites
    missing = [where for where, node in calls if not any(k.arg == "vi" for k in node.keywords)]
    assert missing == []


def test_a_database_that_does_not_answer_is_a_503_to_retry_not_a_500():
    """A pool that lent no connection in time (eventsourcing's OperationalError) is the service unavailable for
    a moment: 503, in the caller's language (the web layer adds Retry-After)."""
    from eventsourcing.persistence import OperationalError

    status, body = error_body(OperationalError("couldn't get a connection after 5.00 sec"))
    assert status == 503 and body["error"] == "unavailable" and "thử lại" in body["message"]
    assert error_body(OperationalError("x"), "en")[1]["message"] == "the database is busy or not answering; retry"
