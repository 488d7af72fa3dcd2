"""Query parameters as typed values, or a 422 naming the parameter (framework-free: queries use it too)."""

from __future__ import annotations

import uuid
from typing import Any

from shared.errors import DomainError


def int_arg(args: Any, name: str, default: int, minimum: int = 0, maximum: int = 10_000) -> int:
    """`args[name]` as a whole number within bounds, or `default` when absent; a 422 naming it otherwise."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DomainError(name, f"must be a whole number, not {raw!r}", rule="query.integer",
                          vi=f"phải là số nguyên, không phải {raw!r}") from None
    if not minimum <= value <= maximum:
        raise DomainError(name, f"must be between {minimum} and {maximum}", rule="query.range",
                          vi=f"phải từ {minimum} đến {maximum}")
    return value


def uuid_arg(name: str, raw: str) -> uuid.UUID:
    """`raw` as an id; a 422 naming `name` when it is not one."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise DomainError(name, f"must be an id (UUID), not {raw!r}", rule="uuid_parsing",
                          vi=f"không phải mã định danh (UUID) hợp lệ: {raw!r}") from None
