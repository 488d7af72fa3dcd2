"""Errors a command or query can answer with; mapped to HTTP 4xx with a JSON body naming the field."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the command. Nothing was recorded.

    `message` is English, `vi` the same in Vietnamese (the default language of the API's answers).
    """

    status = 422

    def __init__(self, field: str, message: str, rule: str | None = None, vi: str | None = None):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.rule = rule
        self.vi = vi

    def message_in(self, lang: str) -> str:
        return self.vi if lang == "vi" and self.vi else self.message

    def to_json(self, lang: str = "en") -> dict[str, object]:
        body: dict[str, object] = {"field": self.field, "message": self.message_in(lang)}
        if self.rule:
            body["rule"] = self.rule
        return body


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409
