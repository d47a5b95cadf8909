"""Phases and month arithmetic: the plan's cap per phase, the law's 3 years outside them."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.phases import (
    DEFAULT_PHASES,
    LEGAL_CAP_MONTHS,
    Phase,
    add_months,
    cap_for,
    last_allowed_day,
    phase_of,
)

D = dt.date


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2024, 9, 1), 6, D(2025, 3, 1)),
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2023, 1, 31), 1, D(2023, 2, 28)),
        (D(2024, 8, 31), 6, D(2025, 2, 28)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 3, 31), 1, D(2024, 4, 30)),
        (D(2024, 11, 15), 2, D(2025, 1, 15)),
        (D(2024, 12, 31), 14, D(2026, 2, 28)),
        (D(2024, 3, 31), -1, D(2024, 2, 29)),
        (D(2024, 1, 15), -1, D(2023, 12, 15)),
        (D(2024, 5, 10), 0, D(2024, 5, 10)),
        (D(2024, 1, 1), 36, D(2027, 1, 1)),
    ],
)
def test_adding_months_keeps_the_day_or_clamps_to_the_months_last_day(
    day: dt.date, months: int, expected: dt.date
) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2024, 9, 1), 6, D(2025, 2, 28)),
        (D(2023, 9, 1), 6, D(2024, 2, 29)),
        (D(2024, 3, 1), 6, D(2024, 8, 31)),
        (D(2024, 2, 29), 6, D(2024, 8, 28)),
        (D(2023, 8, 31), 6, D(2024, 2, 29)),
        (D(2024, 8, 31), 6, D(2025, 2, 28)),
        (D(2024, 10, 31), 6, D(2025, 4, 30)),
        (D(2024, 3, 31), 6, D(2024, 9, 30)),
        (D(2024, 1, 30), 1, D(2024, 2, 29)),
        (D(2024, 1, 1), 1, D(2024, 1, 31)),
        (D(2024, 1, 1), 36, D(2026, 12, 31)),
        (D(2025, 12, 31), 6, D(2026, 6, 30)),
    ],
)
def test_the_last_allowed_day_is_the_day_before_the_same_day_or_the_short_months_last(
    start: dt.date, months: int, expected: dt.date
) -> None:
    assert last_allowed_day(start, months) == expected


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=D(2020, 1, 1), max_value=D(2035, 12, 31)),
    months=st.integers(min_value=1, max_value=LEGAL_CAP_MONTHS),
)
def test_the_last_allowed_day_falls_inside_the_period(start: dt.date, months: int) -> None:
    last = last_allowed_day(start, months)
    assert start <= last <= add_months(start, months)
    assert last >= add_months(start, months - 1)
    # The day after the last is the start's day number in a later month, or a month's 1st.
    after = last + dt.timedelta(days=1)
    assert after.day == start.day or after.day == 1


@pytest.mark.parametrize(
    ("day", "phase_id"),
    [
        (D(2023, 12, 31), None),
        (D(2024, 1, 1), "2024-2025"),
        (D(2025, 12, 31), "2024-2025"),
        (D(2026, 1, 1), "2026-2030"),
        (D(2030, 12, 31), "2026-2030"),
        (D(2031, 1, 1), None),
    ],
)
def test_a_date_falls_in_the_phase_whose_bounds_include_it(
    day: dt.date, phase_id: str | None
) -> None:
    phase = phase_of(day)
    assert (phase.phase_id if phase is not None else None) == phase_id


def test_the_plan_caps_both_phases_at_six_months() -> None:
    assert [(p.phase_id, p.cap_months) for p in DEFAULT_PHASES] == [
        ("2024-2025", 6),
        ("2026-2030", 6),
    ]


@pytest.mark.parametrize("day", [D(2024, 1, 1), D(2025, 12, 31), D(2026, 1, 1), D(2030, 12, 31)])
def test_the_cap_inside_a_phase_is_the_phases(day: dt.date) -> None:
    assert cap_for(day) == 6


@pytest.mark.parametrize("day", [D(2023, 12, 31), D(2031, 1, 1), D(2040, 6, 15)])
def test_the_cap_outside_any_phase_is_the_plans_not_the_legal_ceiling(day: dt.date) -> None:
    assert LEGAL_CAP_MONTHS == 36
    assert cap_for(day) == 6


def test_without_any_phase_the_legal_ceiling_holds() -> None:
    assert cap_for(D(2024, 1, 1), []) == LEGAL_CAP_MONTHS


def test_the_cap_follows_the_phases_configured() -> None:
    phases = [
        Phase(phase_id="pilot", starts_on=D(2024, 1, 1), ends_on=D(2024, 6, 30), cap_months=3)
    ]
    assert cap_for(D(2024, 6, 30), phases) == 3
    assert cap_for(D(2024, 7, 1), phases) == 3  # the nearest phase's, after it ended
    two = [
        *phases,
        Phase(phase_id="main", starts_on=D(2025, 1, 1), ends_on=D(2025, 12, 31), cap_months=12),
    ]
    assert cap_for(D(2024, 8, 1), two) == 3
    assert cap_for(D(2024, 11, 1), two) == 12


def test_no_phase_may_allow_more_than_the_legal_cap() -> None:
    with pytest.raises(ValidationError):
        Phase(phase_id="too-long", starts_on=D(2024, 1, 1), ends_on=D(2024, 12, 31), cap_months=37)
