"""Programme phases and duration arithmetic: the plan's cap per phase, the law's 3 years.

The phases live in one place, the reference data (`shared/reference/data/phases.json`), read
here by every service: the caps the needs and placement services enforce and the phases the
reporting service evaluates cannot diverge.
"""

import calendar
import datetime as dt
import itertools
import json
from collections.abc import Sequence
from importlib import resources
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

LEGAL_CAP_MONTHS: Final = 36
"""The law's ceiling for any secondment; no phase configuration may exceed it."""


class Phase(BaseModel):
    """One phase of the plan, as configured."""

    model_config = ConfigDict(frozen=True)

    phase_id: str = Field(examples=["2024-2025"])
    starts_on: dt.date
    ends_on: dt.date
    cap_months: int = Field(ge=1, le=LEGAL_CAP_MONTHS)
    provisional: bool = Field(
        default=False,
        description="The phase's assumptions (units, mountainous localities, cap) await "
        "leadership's confirmation; its figures are shown as provisional.",
    )


def _load_phases() -> tuple[Phase, ...]:
    data = resources.files("shared.reference").joinpath("data/phases.json").read_text("utf-8")
    fields = set(Phase.model_fields)
    phases = tuple(
        Phase.model_validate({k: v for k, v in item.items() if k in fields})
        for item in json.loads(data)["items"]
    )
    for before, after in itertools.pairwise(phases):
        if after.starts_on <= before.ends_on:
            raise ValueError(f"phases {before.phase_id} and {after.phase_id} overlap")
    return phases


DEFAULT_PHASES: Final[tuple[Phase, ...]] = _load_phases()
"""The plan's phases, from the reference data: the one definition every service reads."""


def phase_of(day: dt.date, phases: Sequence[Phase] = DEFAULT_PHASES) -> Phase | None:
    """The phase a date falls in, if any."""
    return next((p for p in phases if p.starts_on <= day <= p.ends_on), None)


def phase_before(phase: Phase, phases: Sequence[Phase] = DEFAULT_PHASES) -> Phase | None:
    """The latest phase that ended before `phase` started (what a review compares with and
    the planner learns from), or None for the first."""
    earlier = [p for p in phases if p.ends_on < phase.starts_on]
    return max(earlier, key=lambda p: p.ends_on) if earlier else None


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day `months` later; the month's last day when it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def last_allowed_day(start: dt.date, months: int) -> dt.date:
    """Inclusive last day of a secondment of `months` months, as the Civil Code reads a
    period in months (2015, art. 148): the day before the start's day in the last month
    (2024-09-01, 6 → 2025-02-28), or that month's last day when it has no such day
    (2024-10-31, 6 → 2025-04-30: April has no 31st)."""
    corresponding = add_months(start, months)
    if corresponding.day < start.day:  # the last month is too short: its last day
        return corresponding
    return corresponding - dt.timedelta(days=1)


def cap_for(start: dt.date, phases: Sequence[Phase] = DEFAULT_PHASES) -> int:
    """Months allowed for a secondment starting on `start`: its phase's cap; outside every
    phase the plan's cap still holds (the nearest phase's), never more than the law's."""
    phase = phase_of(start, phases)
    if phase is None and phases:
        phase = min(phases, key=lambda p: _distance(start, p))
    return min(phase.cap_months, LEGAL_CAP_MONTHS) if phase is not None else LEGAL_CAP_MONTHS


def _distance(day: dt.date, phase: Phase) -> int:
    return max((phase.starts_on - day).days, (day - phase.ends_on).days, 0)
