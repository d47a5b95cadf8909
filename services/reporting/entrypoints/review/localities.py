"""The localities a review accounts for: every mountainous home locality of the phase (from
the reference data, so one that sent no one still has its row and its finding), then any other
home unit the evaluation counts. Figures come from `by_home_unit` as the dashboard shows it."""

import datetime as dt
from dataclasses import dataclass
from functools import cache

from services.reporting.domain.evaluation import counting_window
from services.reporting.entrypoints.exports import group_name
from services.reporting.service_layer.review import ReviewFigures
from shared.reference import reference_data
from shared.reference.models import UnitKind

HOME_KINDS = (UnitKind.DISTRICT, UnitKind.COMMUNE, UnitKind.OTHER)


@dataclass(frozen=True)
class Locality:
    """One home locality's row: its figures (zero when it sent no one)."""

    code: str
    name: str
    expected: bool
    started: int = 0
    officials: int = 0
    active: int = 0
    ended: int = 0
    terminated_early: int = 0
    overdue: int = 0
    promoted: int = 0


@cache
def _expected(start: dt.date, last: dt.date, successor: bool) -> tuple[str, ...]:
    ref = reference_data()
    codes: list[str] = []
    for unit in ref.units():
        if unit.kind not in HOME_KINDS or unit.illustrative or unit.reporting_only:
            continue
        if not ref.mountainous_within(unit, start, last):
            continue
        code = ref.rollup(unit.code) if successor else unit.code
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def expected_localities(f: ReviewFigures) -> tuple[str, ...]:
    """Mountainous home localities in force during the counting window (grouped under their
    roll-up unit when the evaluation is); none when the report is filtered to one home unit."""
    ev = f.evaluation
    window = counting_window(f.phase, ev.as_of)
    if window is None or ev.filters.home_unit:
        return ()
    return _expected(window[0], window[1], ev.rollup == "successor")


def localities(f: ReviewFigures) -> list[Locality]:
    """The expected localities in reference-data order, then the other counted home units."""
    expected = expected_localities(f)
    groups = f.evaluation.by_home_unit
    out = []
    for code in [*expected, *(c for c in groups if c not in expected)]:
        name = group_name("home_unit", code, "vi")
        group = groups.get(code)
        if group is None:
            out.append(Locality(code, name, expected=True))
            continue
        s = group.secondments
        out.append(
            Locality(
                code,
                name,
                expected=code in expected,
                started=s.started,
                officials=s.officials,
                active=s.active,
                ended=s.ended,
                terminated_early=s.terminated_early,
                overdue=s.overdue,
                promoted=group.promoted,
            )
        )
    return out
