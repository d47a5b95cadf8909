"""Counting primitives over numpy columns: distinct values, counts per group, several yes/no
measures per group at once, histograms. They know nothing of secondments or needs."""

from collections.abc import Mapping

import numpy as np

from services.reporting.domain.columnar.columns import Array, Vocabulary

Counts = dict[str, int]


class DistinctCounter:
    """Distinct values in all and per group, for several groupings of the same rows. The rows
    come ordered by value (`order`, sorted once and kept with the data), so each grouping
    sorts (value, group) pairs that are already in order but for runs of one value: a stable
    sort (timsort) is near linear on them, where a fresh sort per grouping is n log n."""

    def __init__(self, values: Array, order: Array) -> None:
        self.order = order
        self.values = values[order].astype(np.int64)

    def total(self) -> int:
        return int(np.count_nonzero(_run_starts(self.values)))

    def by(self, keys: Array, size: int) -> Array:
        """Per group 0 … size − 1, its distinct values (rows of group -1 count nowhere)."""
        width = max(size, 1)
        grouped = keys[self.order]
        valid = grouped >= 0
        pairs = np.sort((self.values * width + grouped)[valid], kind="stable")
        return count_by(pairs[_run_starts(pairs)] % width, size)


def _run_starts(ordered: Array) -> Array:
    """Where each run of equal values of a sorted array starts (one per distinct value)."""
    starts = np.ones(len(ordered), dtype=np.bool_)
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    return starts


def count_by(groups: Array, size: int, weights: Array | None = None) -> Array:
    """Per group 0 … size − 1, the rows (or the sum of `weights`); rows of no group (-1)
    count nowhere."""
    valid = groups >= 0
    if not valid.all():
        groups = groups[valid]
        weights = None if weights is None else weights[valid]
    return np.bincount(groups, weights=weights, minlength=size)[:size].astype(np.int64)


class FlagCounter:
    """Counts rows per group for several yes/no measures with one `bincount` per grouping:
    each row's measures packed into the bits of one number, counted per (group, bits), then
    summed per measure."""

    def __init__(self, flags: Mapping[str, Array], rows: int) -> None:
        self.names = ("rows", *flags)
        packed = np.zeros(rows, dtype=np.int64)
        for bit, values in enumerate(flags.values()):
            packed |= values.astype(np.int64) << bit
        self.packed = packed
        self.combinations = 1 << len(flags)
        combos = np.arange(self.combinations)
        # combination × measure: 1 where the combination has the measure (rows: always)
        self.table = np.stack(
            [np.ones(self.combinations, dtype=np.int64)]
            + [(combos >> bit) & 1 for bit in range(len(flags))],
            axis=1,
        )

    def by(self, keys: Array, size: int) -> dict[str, Array]:
        """Per measure, the count per group 0 … size − 1 (rows of group -1 count nowhere)."""
        valid = keys >= 0
        index = (keys * self.combinations + self.packed)[valid]
        per_combination = np.bincount(index, minlength=size * self.combinations)
        counts = per_combination[: size * self.combinations].reshape(size, self.combinations)
        matrix = counts @ self.table
        return {name: matrix[:, i] for i, name in enumerate(self.names)}


def histogram(values: Array) -> dict[int, int]:
    """Value → count (values are days, normally from 0 to a few hundred)."""
    if not len(values):
        return {}
    low = min(int(values.min()), 0)
    counts = np.bincount(values - low)
    return {int(v) + low: int(counts[v]) for v in np.flatnonzero(counts)}


def named(vocabulary: Vocabulary, codes: Array) -> Counts:
    counts = np.bincount(codes[codes >= 0], minlength=len(vocabulary.values))
    return {vocabulary.values[i]: int(counts[i]) for i in np.flatnonzero(counts)}
