"""Secondments per home unit and year, for the locality plans' progress (`domain/plans.py`)."""

import datetime as dt
from collections.abc import Callable

import numpy as np

from services.reporting.domain.columnar.asof import (
    Selection,
    chosen_secondments,
    counted_secondments,
)
from services.reporting.domain.columnar.store import Snapshot


def seconded_by_unit_year(
    snapshot: Snapshot, selection: Selection, key: Callable[[str], str]
) -> dict[tuple[str, int], int]:
    """{(home unit under `key`, year of start): secondments} of the selection (counted, not
    cancelled, started from `first` to `last`)."""
    s = snapshot.secondments.columns
    rows = np.flatnonzero(chosen_secondments(snapshot, selection, counted_secondments(snapshot)))
    if len(rows) == 0:
        return {}
    mapping, names = snapshot.units.groups(key)
    units = mapping[s["home"][rows]]
    years = np.fromiter(
        (dt.date.fromordinal(int(d)).year for d in s["start"][rows]), dtype=np.int32
    )
    pairs, counts = np.unique(np.stack([units, years]), axis=1, return_counts=True)
    return {
        (names[int(u)], int(y)): int(n) for (u, y), n in zip(pairs.T, counts, strict=True) if u >= 0
    }
