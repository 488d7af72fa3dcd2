"""Reporting periods: a month (2026-03), a quarter (2026-Q1) or a year (2026)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Literal

from shared.errors import DomainError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    kind: Literal["month", "quarter", "year", "range"]  # range: from one month to another
    label: str
    first: dt.date
    last: dt.date

    @property
    def months(self) -> list[str]:
        return months_between(self.first.strftime("%Y-%m"), self.last.strftime("%Y-%m"))

    @property
    def quarters(self) -> list[str]:
        return sorted({quarter_of(dt.date.fromisoformat(m + "-01")) for m in self.months})

    @property
    def years(self) -> list[str]:
        return sorted({m[:4] for m in self.months})

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "label": self.label, "first": self.first.isoformat(),
                "last": self.last.isoformat()}


@functools.lru_cache(maxsize=4096)
def month_end(month: str) -> dt.date:
    y, m = map(int, month.split("-"))
    return (dt.date(y + 1, 1, 1) if m == 12 else dt.date(y, m + 1, 1)) - dt.timedelta(days=1)


def quarter_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_end(quarter: str) -> dt.date:
    year, q = quarter.split("-Q")
    return month_end(f"{year}-{int(q) * 3:02d}")


def months_between(first: str, last: str) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def parse_period(raw: str | None, today: dt.date, field: str = "period") -> Period:
    """`2026-03`, `2026-Q1` or `2026`; refused when malformed or when it starts after `today`."""
    value = (raw or "").strip()
    period: Period | None = None
    if match := _MONTH.match(value):
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12:
            first = dt.date(year, month, 1)
            period = Period("month", value, first, month_end(value))
    elif match := _QUARTER.match(value):
        year, q = int(match[1]), int(match[2])
        period = Period("quarter", f"{year}-Q{q}", dt.date(year, 3 * q - 2, 1), quarter_end(f"{year}-Q{q}"))
    elif match := _YEAR.match(value):
        year = int(match[1])
        period = Period("year", value, dt.date(year, 1, 1), dt.date(year, 12, 31))
    if period is None or period.first.year < 1930:
        raise DomainError(field, f"must be a month (2026-03), a quarter (2026-Q1) or a year (2026), not {value!r}",
                          rule="period.format",
                          vi=f"phải là tháng (2026-03), quý (2026-Q1) hoặc năm (2026), không phải {value!r}")
    if period.first > today:
        raise DomainError(field, f"{period.label} has not begun (today is {today.isoformat()})",
                          rule="period.not_future",
                          vi=f"kỳ {period.label} chưa bắt đầu (hôm nay là {today.strftime('%d/%m/%Y')})")
    return period


def month_range(first: str, last: str) -> Period:
    """The months from `first` to `last` (YYYY-MM, already checked)."""
    return Period("range", f"{first}..{last}", dt.date.fromisoformat(first + "-01"), month_end(last))
