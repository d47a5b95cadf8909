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

EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
"""numpy's day 0 as a proleptic ordinal (the snapshot's dates are ordinals)."""


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
    units = mapping[s["home"][rows]].astype(np.int64)
    # Years straight from the day numbers (proleptic ordinals), in numpy: a Python date per
    # secondment cost 54–80 ms of each evaluation's p50 on the million-event bench.
    days = (s["start"][rows].astype(np.int64) - EPOCH_ORDINAL).astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    kept = units >= 0
    units, years = units[kept], years[kept]
    if len(years) == 0:
        return {}
    # counted per (unit, year) with a bincount over a small grid (units × the years seen)
    first = int(years.min())
    span = int(years.max()) - first + 1
    counts = np.bincount(units * span + (years - first), minlength=len(names) * span)
    return {
        (names[int(k // span)], first + int(k % span)): int(counts[k])
        for k in np.flatnonzero(counts)
    }
