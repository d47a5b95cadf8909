"""The evaluation's counts: the selection's secondments and needs counted in all and per
group, with durations, ratings and post arrangements of the ended ones, promotions (at the
post arrangement or later) with their delay from the return, and needs' time to fill."""

from dataclasses import dataclass

import numpy as np

from services.reporting.domain.columnar.asof import (
    Selection,
    among,
    chosen_secondments,
    counted_secondments,
    equal,
    need_fields,
    open_state,
    planned_ends,
)
from services.reporting.domain.columnar.columns import NEVER, Array, KeyOf, Vocabulary
from services.reporting.domain.columnar.counting import (
    Counts,
    DistinctCounter,
    FlagCounter,
    count_by,
    histogram,
    named,
)
from services.reporting.domain.columnar.store import Snapshot

DIMENSION_COLUMNS = {
    "home_unit": "home",
    "host_unit": "host",
    "sector": "sector",
    "ethnicity": "ethnicity",
    "gender": "gender",
}


@dataclass(frozen=True)
class Tally:
    """The counts an evaluation is assembled from (`domain/evaluation.py`)."""

    secondments: Counts
    """started, active, ended, completed, terminated_early, overdue, promoted, and
    `officials` (distinct)"""
    groups: dict[str, dict[str, Counts]]
    """dimension → group → the same counts, for groups with a secondment"""
    needs: Counts
    need_groups: dict[str, dict[str, Counts]]
    """`host_unit` / `sector` → group → raised, withdrawn, filled, positions_requested,
    positions_filled, for groups with a need"""
    durations: dict[int, int]
    """days from start to end → ended secondments"""
    ratings: Counts
    arrangements: Counts
    """post arrangements in effect by `as_of`, of ended secondments"""
    destinations: dict[str, Counts]
    """destination unit (under the roll-up) → post arrangement code → ended secondments whose
    arrangement in effect names that unit (arrangements naming none are not in it)"""
    outcomes: dict[str, dict[str, dict[str, Counts]]]
    """`home_unit` / `host_unit` / `sector` → group → `ratings` / `post_arrangements` → code →
    ended secondments"""
    promotion_delays: dict[int, int]
    """days from the end to the first promotion (at the arrangement, else later) → promoted"""
    fill_days: dict[int, int]
    """days from `raised_on` (as amended) to the fill in effect → filled needs"""


def tally(snapshot: Snapshot, selection: Selection, unit_key: KeyOf) -> Tally:
    """Count the selection's secondments and needs, grouped, as at the end of `as_of`."""
    on = selection.as_of.toordinal()
    unit_groups, unit_names = snapshot.units.groups(unit_key)
    s = snapshot.secondments.columns
    n_sec = len(snapshot.secondments)
    counted = counted_secondments(snapshot)
    chosen = chosen_secondments(snapshot, selection, counted)
    rows = np.flatnonzero(chosen)

    def col(name: str) -> Array:
        return s[name][rows]

    ended = col("ended") <= on
    active = ~ended
    reasons = col("reason")
    completed = ended & equal(reasons, snapshot.reasons, "COMPLETED")
    early = ended & equal(reasons, snapshot.reasons, "TERMINATED_EARLY")
    # planned end after the extensions decided by the day
    planned = planned_ends(snapshot, on, rows)
    overdue = active & (planned < on)
    # post arrangement in effect by the day, with its destination and date
    history = snapshot.arrangement_history.latest_each(n_sec, on, ("code", "destination", "on"))
    multi, single_in_effect = col("arr_multi"), col("arr_on") <= on
    arrangement = np.where(
        multi, history["code"][rows], np.where(single_in_effect, col("arrangement"), -1)
    )
    destination = np.where(
        multi, history["destination"][rows], np.where(single_in_effect, col("destination"), -1)
    )
    arranged_on = np.where(multi, history["on"][rows], col("arr_on"))
    # promoted at the post arrangement, else by a later promotion dated by the day
    at_arrangement = ended & equal(arrangement, snapshot.arrangements, "PROMOTED")
    later_on = snapshot.promotions.first_on(n_sec)[rows]
    later = ended & ~at_arrangement & (later_on <= on)
    promoted = at_arrangement | later
    promoted_on = np.where(at_arrangement, arranged_on, later_on)
    measures = {
        "active": active,
        "ended": ended,
        "completed": completed,
        "terminated_early": early,
        "overdue": overdue,
        "promoted": promoted,
        "promoted_after_return": later,
        "received": col("received") <= on,
    }
    # the selection's rows (numbered as in `rows`) in the snapshot's order by official
    by_official = snapshot.by_official()
    officials = DistinctCounter(
        col("official"), (np.cumsum(chosen) - 1)[by_official[chosen[by_official]]]
    )
    total: Counts = {"started": len(rows)}
    total.update({k: int(np.count_nonzero(v)) for k, v in measures.items()})
    total["officials"] = officials.total()

    groups: dict[str, dict[str, Counts]] = {}
    outcomes: dict[str, dict[str, dict[str, Counts]]] = {}
    counter = FlagCounter(measures, len(rows))
    for dimension, column in DIMENSION_COLUMNS.items():
        codes = col(column)
        vocabulary = _vocabulary(snapshot, column)
        if column in ("home", "host"):
            keys, names = unit_groups[codes], unit_names
        else:
            keys, names = codes, vocabulary.values
        size = len(names)
        counts = counter.by(keys, size)
        started = counts["started"] = counts.pop("rows")
        counts["officials"] = officials.by(keys, size)
        groups[dimension] = {
            names[g]: {k: int(v[g]) for k, v in counts.items()} for g in np.flatnonzero(started)
        }
        if dimension in OUTCOME_DIMENSIONS:
            per_group: dict[str, dict[str, Counts]] = {}
            for name, vocab, values in (
                ("ratings", snapshot.ratings, col("rating")),
                ("post_arrangements", snapshot.arrangements, arrangement),
            ):
                for g, c in _cross(keys, size, values, vocab, ended).items():
                    per_group.setdefault(names[g], {})[name] = c
            outcomes[dimension] = per_group

    # ----- ended secondments: durations, ratings, arrangements
    durations = histogram((col("ended") - col("start"))[ended])
    ratings = named(snapshot.ratings, col("rating")[ended])
    arrangements = named(snapshot.arrangements, arrangement[ended])
    destinations = {
        unit_names[g]: counts
        for g, counts in _cross(
            unit_groups[destination],
            len(unit_names),
            arrangement,
            snapshot.arrangements,
            ended,
        ).items()
    }
    delays = histogram((promoted_on - col("ended"))[promoted])

    # ----- needs
    needs, need_groups, fill_days = _tally_needs(
        snapshot, selection, on, counted, unit_groups, unit_names
    )
    return Tally(
        secondments=total,
        groups=groups,
        needs=needs,
        need_groups=need_groups,
        durations=durations,
        ratings=ratings,
        arrangements=arrangements,
        destinations=destinations,
        outcomes=outcomes,
        promotion_delays=delays,
        fill_days=fill_days,
    )


OUTCOME_DIMENSIONS = ("home_unit", "host_unit", "sector")
"""The breakdowns that also show ratings and post arrangements per group."""


def _cross(
    keys: Array, size: int, codes: Array, vocab: Vocabulary, mask: Array
) -> dict[int, Counts]:
    """Per group with any, the masked rows per code (`named` within each group)."""
    width = len(vocab.values)
    valid = mask & (keys >= 0) & (codes >= 0)
    if not width or not valid.any():
        return {}
    flat = np.bincount(keys[valid] * width + codes[valid], minlength=size * width)
    matrix = flat[: size * width].reshape(size, width)
    return {
        int(g): {vocab.values[i]: int(matrix[g, i]) for i in np.flatnonzero(matrix[g])}
        for g in np.flatnonzero(matrix.sum(axis=1))
    }


def _vocabulary(snapshot: Snapshot, column: str) -> Vocabulary:
    return {
        "home": snapshot.units,
        "host": snapshot.units,
        "sector": snapshot.sectors,
        "ethnicity": snapshot.ethnicities,
        "gender": snapshot.genders,
    }[column]


def _tally_needs(
    snapshot: Snapshot,
    selection: Selection,
    on: int,
    counted: Array,
    unit_groups: Array,
    unit_names: list[str],
) -> tuple[Counts, dict[str, dict[str, Counts]], dict[int, int]]:
    n = snapshot.needs.columns
    size = len(snapshot.needs)
    fields = need_fields(snapshot, on)
    raised, host, sector, positions = (fields[k] for k in ("raised", "host", "sector", "positions"))
    chosen = (
        (n["raised"] != NEVER)
        & (raised >= selection.first.toordinal())
        & (raised <= selection.last.toordinal())
    )
    if selection.host_units is not None:
        chosen &= np.isin(host, among(snapshot.units, selection.host_units))
    if selection.sector is not None:
        chosen &= equal(sector, snapshot.sectors, selection.sector)
    rows = np.flatnonzero(chosen)
    withdrawn, filled = open_state(snapshot, on, rows)
    # per need, its secondments started by the day (whatever their phase and home unit)
    s = snapshot.secondments.columns
    taken_rows = counted & (s["start"] <= on) & (s["need"] >= 0)
    taken = np.bincount(s["need"][taken_rows], minlength=size)[rows]
    wanted = positions[rows]
    known = wanted >= 0
    requested = np.where(known, wanted, 0)
    measures = {
        "withdrawn": withdrawn,
        "filled": filled,
        "positions_requested": requested,
        "positions_filled": np.where(known, np.minimum(taken, wanted), 0),
    }
    total: Counts = {"raised": len(rows)}
    total.update({k: int(v.sum()) for k, v in measures.items()})
    groups: dict[str, dict[str, Counts]] = {}
    for dimension, codes, names in (
        ("host_unit", unit_groups[host[rows]], unit_names),
        ("sector", sector[rows], snapshot.sectors.values),
    ):
        count = len(names)
        per = FlagCounter({"withdrawn": withdrawn, "filled": filled}, len(rows)).by(codes, count)
        raised_per = per["raised"] = per.pop("rows")
        for name in ("positions_requested", "positions_filled"):
            per[name] = count_by(codes, count, measures[name])
        groups[dimension] = {
            names[g]: {k: int(v[g]) for k, v in per.items()} for g in np.flatnonzero(raised_per)
        }
    # the fill in effect: the latest NeedFilled / NeedReopened by the day when reopened
    fill_on = np.where(
        n["reopened"][rows], snapshot.fills.latest(size, on, "on")[rows], n["filled"][rows]
    )
    return total, groups, histogram((fill_on - raised[rows])[filled])
