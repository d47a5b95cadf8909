"""The alert lists: secondments ending soon or overdue, ended ones whose official's post is
still not recorded, and needs open too long, as at a day."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.reporting.domain.columnar.asof import (
    counted_secondments,
    need_fields,
    open_state,
    planned_ends,
)
from services.reporting.domain.columnar.columns import NEVER, Array
from services.reporting.domain.columnar.counting import Counts
from services.reporting.domain.columnar.store import Snapshot


@dataclass(frozen=True)
class AlertLists:
    """What needs attention as at the end of a day (all phases): the first `limit` of each
    list, and how many there are in all."""

    ending_soon: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    open_needs: list[dict[str, Any]]
    counts: Counts
    unarranged: list[dict[str, Any]]
    """Ended at least `arrangement_within` days ago, no post arrangement in effect yet."""


def _first(keys: list[str], rows: Array, values: Array, limit: int) -> list[tuple[int, int]]:
    """The `limit` (value, row) pairs with the smallest value, ties by id."""
    if len(rows) > limit > 0:
        cutoff = np.partition(values, limit - 1)[limit - 1]
        keep = values <= cutoff
        rows, values = rows[keep], values[keep]
    ordered = sorted(
        zip(values.tolist(), rows.tolist(), strict=True), key=lambda p: (p[0], keys[p[1]])
    )
    return ordered[: max(limit, 0)]


def alert_lists(
    snapshot: Snapshot,
    as_of: dt.date,
    *,
    ending_within: int,
    open_longer_than: int,
    limit: int,
    arrangement_within: int = 30,
) -> AlertLists:
    """Active secondments whose planned end (as extended) is within `ending_within` days
    (inclusive) or past; secondments ended `arrangement_within` days ago or more with no post
    arrangement in effect (the plan asks what became of each official); and needs open (not
    withdrawn, not filled) for at least `open_longer_than` days."""
    on = as_of.toordinal()
    s = snapshot.secondments.columns
    active = np.flatnonzero(counted_secondments(snapshot) & (s["start"] <= on) & (s["ended"] > on))
    planned = planned_ends(snapshot, on, active)
    soon = (planned >= on) & (planned <= on + ending_within)
    late = planned < on
    keys = snapshot.secondments.keys

    def secondment(end: int, row: int) -> dict[str, Any]:
        return {
            "secondment_id": keys[row],
            "official_id": snapshot.officials.value(s["official"][row]),
            "home_unit": snapshot.units.value(s["home"][row]),
            "host_unit": snapshot.units.value(s["host"][row]),
            "sector": snapshot.sectors.value(s["sector"][row]),
            "start_date": dt.date.fromordinal(int(s["start"][row])),
            "planned_end_date": dt.date.fromordinal(end),
        }

    ended_long = np.flatnonzero(
        counted_secondments(snapshot) & (s["ended"] <= on - arrangement_within)
    )
    in_effect = np.where(
        s["arr_multi"][ended_long],
        snapshot.arrangement_history.latest(len(snapshot.secondments), on, "code")[ended_long],
        np.where(s["arr_on"][ended_long] <= on, s["arrangement"][ended_long], -1),
    )
    unarranged = ended_long[in_effect < 0]
    # the planned end as extended by the day, like the other lists' (not the first decision's)
    extended_end = dict(
        zip(unarranged.tolist(), planned_ends(snapshot, on, unarranged).tolist(), strict=True)
    )

    def ended(day: int, row: int) -> dict[str, Any]:
        return secondment(int(extended_end[row]), row) | {"ended_on": dt.date.fromordinal(day)}

    n = snapshot.needs.columns
    fields = need_fields(snapshot, on)
    candidates = np.flatnonzero(
        (n["raised"] != NEVER) & (fields["raised"] <= on - open_longer_than)
    )
    withdrawn, filled = open_state(snapshot, on, candidates)
    open_rows = candidates[~withdrawn & ~filled]

    def need(raised: int, row: int) -> dict[str, Any]:
        return {
            "need_id": snapshot.needs.keys[row],
            "host_unit": snapshot.units.value(fields["host"][row]),
            "sector": snapshot.sectors.value(fields["sector"][row]),
            "positions": None if fields["positions"][row] < 0 else int(fields["positions"][row]),
            "raised_on": dt.date.fromordinal(raised),
        }

    return AlertLists(
        ending_soon=[secondment(*p) for p in _first(keys, active[soon], planned[soon], limit)],
        overdue=[secondment(*p) for p in _first(keys, active[late], planned[late], limit)],
        open_needs=[
            need(*p)
            for p in _first(snapshot.needs.keys, open_rows, fields["raised"][open_rows], limit)
        ],
        counts={
            "ending_soon": int(np.count_nonzero(soon)),
            "overdue": int(np.count_nonzero(late)),
            "needs_open_long": len(open_rows),
            "ended_without_arrangement": len(unarranged),
        },
        unarranged=[ended(*p) for p in _first(keys, unarranged, s["ended"][unarranged], limit)],
    )
