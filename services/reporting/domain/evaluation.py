"""The phase evaluation leadership reads: definitions and the shape of the answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from shared.phases import Phase


class Filters(BaseModel):
    """Where a filter means something: `home_unit` restricts secondments only."""

    model_config = ConfigDict(frozen=True)

    home_unit: str | None = None
    host_unit: str | None = None
    sector: str | None = None


class NeedsBlock(BaseModel):
    """Needs of the phase (by `raised_on`) as at the end of `as_of`."""

    raised: int
    withdrawn: int
    filled: int
    open: int = Field(description="raised − withdrawn − filled")
    positions_requested: int
    positions_filled: int
    fill_rate: float | None = Field(
        description="positions_filled / positions_requested; null when nothing was requested"
    )


class SecondmentsBlock(BaseModel):
    """Secondments of the phase (by `start_date`) as at the end of `as_of`."""

    started: int
    active: int
    ended: int
    completed: int
    terminated_early: int
    overdue: int
    officials: int


class Evaluation(BaseModel):
    """One phase's evaluation."""

    phase_id: str
    as_of: dt.date
    filters: Filters
    needs: NeedsBlock
    secondments: SecondmentsBlock


def counting_window(phase: Phase, as_of: dt.date) -> tuple[dt.date, dt.date] | None:
    """The dates whose facts count: from the phase's start to the earlier of its end and
    `as_of`; None when `as_of` is before the phase started."""
    last = min(phase.ends_on, as_of)
    if last < phase.starts_on:
        return None
    return phase.starts_on, last


def fill_rate(filled: int, requested: int) -> float | None:
    """Share of requested positions filled; undefined when nothing was requested."""
    return round(filled / requested, 4) if requested else None
