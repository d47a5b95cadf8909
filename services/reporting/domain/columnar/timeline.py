"""The monthly timeline: secondments started and ended per month of the window."""

import datetime as dt

import numpy as np

from services.reporting.domain.columnar.asof import (
    Selection,
    chosen_secondments,
    counted_secondments,
)
from services.reporting.domain.columnar.columns import Array
from services.reporting.domain.columnar.counting import count_by
from services.reporting.domain.columnar.store import Snapshot


def timeline(snapshot: Snapshot, selection: Selection) -> list[tuple[str, int, int]]:
    """(YYYY-MM, started, ended by `as_of`) for each month from `first` to `last`, over the
    selection's secondments (an end after the last month belongs to no month shown)."""
    months: list[dt.date] = []
    year, month = selection.first.year, selection.first.month
    while (year, month) <= (selection.last.year, selection.last.month):
        months.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if not months:
        return []
    after = dt.date(year, month, 1)
    bounds = np.array([m.toordinal() for m in (*months, after)], dtype=np.int64)
    s = snapshot.secondments.columns
    rows = np.flatnonzero(chosen_secondments(snapshot, selection, counted_secondments(snapshot)))

    def per_month(days_: Array) -> Array:
        return count_by(np.searchsorted(bounds, days_, side="right") - 1, len(months))

    ended = s["ended"][rows]
    started = per_month(s["start"][rows])
    finished = per_month(ended[ended <= selection.as_of.toordinal()])
    return [
        (f"{m.year:04d}-{m.month:02d}", int(started[i]), int(finished[i]))
        for i, m in enumerate(months)
    ]
