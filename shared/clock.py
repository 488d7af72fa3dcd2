"""Việt Nam's clock: dates of meetings, reports and as-of cut-offs are days in Việt Nam time."""

from __future__ import annotations

import datetime as dt

VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")  # UTC+7, no daylight saving


def vietnam_today() -> dt.date:
    return dt.datetime.now(VIETNAM).date()
