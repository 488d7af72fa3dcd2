import datetime as dt

from services.policy import policy_on


def test_policy_follows_its_effective_dates():
    assert policy_on(dt.date(2024, 12, 31)).version == "2021.1"
    assert policy_on(dt.date(2025, 7, 1)).version == "2025.1"
    assert policy_on(dt.date(1990, 1, 1)).version == "2021.1"  # before every version: the earliest


def test_policy_numbers_match_the_charter():
    p = policy_on(dt.date(2026, 1, 1))
    assert (p.probation_months, p.regular_min_minutes, p.combined_min_minutes) == (12, 90, 120)
