"""Dates of a record's timeline: the value of a dated timeline on a day, and calendar months added to a date
(probation). Pure functions used by the aggregates of services.members.domain. No framework code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def as_of(timeline: list[tuple[dt.date, Any]], day: dt.date) -> Any:
    """The value of a dated timeline [(from, value), ...] (in date order) on `day`; None before it began."""
    value = None
    for since, v in timeline:
        if since <= day:
            value = v
        else:
            break
    return value


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")
