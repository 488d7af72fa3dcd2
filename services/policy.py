"""The versioned policy: every number of the rules, by the date it applies from (services/policy.yml)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

POLICY_FILE = Path(__file__).with_name("policy.yml")


@dataclass(frozen=True)
class Policy:
    version: str
    effective_from: dt.date
    source: str
    probation_months: int
    regular_min_minutes: int
    combined_min_minutes: int
    min_official_members: int
    committee_official_members: int
    decision_majority: str
    admission_majority: str
    attendance_target_percent: int
    max_consecutive_absences: int
    unexcused_absences_flag: int
    required_agenda_steps: tuple[str, ...] = ()
    dues_unpaid_flag: int = 3  # months of dues unpaid in a year that flag a member (Charter art. 8)


@cache
def _versions(path: Path = POLICY_FILE) -> tuple[Policy, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    versions = tuple(sorted((Policy(**(v | {"required_agenda_steps": tuple(v.get("required_agenda_steps", ()))}))
                                   for v in data["versions"]), key=lambda p: p.effective_from))
    if not versions:
        raise ValueError(f"{path} defines no policy version")
    return versions


def policy_on(day: dt.date) -> Policy:
    """The policy in force on `day` (the earliest one for days before every version)."""
    chosen = _versions()[0]
    for policy in _versions():
        if policy.effective_from <= day:
            chosen = policy
    return chosen


def policy_version(version: str) -> Policy:
    """The policy of that version (a figure is computed under the version its meeting recorded)."""
    for policy in _versions():
        if policy.version == version:
            return policy
    raise LookupError(f"no policy version {version!r} in {POLICY_FILE.name}")
