"""The column encoding and containers: vocabularies of strings, rows keyed by id, histories of
versioned facts (strings as small integers, -1 for none; dates as ordinals, `NEVER` for none)."""

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
NEVER = np.iinfo(np.int32).max
"""A date that never comes: the encoding of a missing date."""

KeyOf = Callable[[str], str]


def day(value: dt.date | None) -> int:
    """The ordinal of a date, `NEVER` for none."""
    return NEVER if value is None else value.toordinal()


class Vocabulary:
    """Strings of one kind as small integers, in order of first sight (never renumbered)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def code(self, value: str | None) -> int:
        """The value's number, -1 for none."""
        if value is None:
            return -1
        index = self._index.get(value)
        if index is None:
            index = self._index[value] = len(self.values)
            self.values.append(value)
        return index

    def value(self, code: int) -> str | None:
        """The value a number stands for; None for -1 (none)."""
        return None if code < 0 else self.values[code]

    def find(self, value: str) -> int:
        """The value's number if it was ever seen, else -1 (matches nothing)."""
        return self._index.get(value, -1)

    def codes(self, values: Iterable[str | None]) -> Array:
        """Numbers of many values."""
        code = self.code
        return np.fromiter((code(v) for v in values), dtype=np.int32)

    def groups(self, key: KeyOf) -> tuple[Array, list[str]]:
        """Each number's group under `key` (e.g. a unit's roll-up unit) and the group names."""
        names: list[str] = []
        index: dict[str, int] = {}
        mapping = np.empty(len(self.values) + 1, dtype=np.int32)
        for number, value in enumerate(self.values):
            name = key(value)
            if name not in index:
                index[name] = len(names)
                names.append(name)
            mapping[number] = index[name]
        mapping[-1] = -1  # -1 (none) stays none
        return mapping, names


def days(values: Iterable[dt.date | None]) -> Array:
    """Ordinals of many dates."""
    return np.fromiter((day(v) for v in values), dtype=np.int32)


def ints(values: Iterable[int | None]) -> Array:
    """Integers with -1 for none."""
    return np.fromiter((-1 if v is None else v for v in values), dtype=np.int32)


def flags(values: Iterable[bool | None]) -> Array:
    """Booleans, false for none."""
    return np.fromiter((bool(v) for v in values), dtype=np.bool_)


@dataclass
class Keyed:
    """Rows addressed by an id: one array per column, grown as ids arrive. A row created
    only because another table refers to it holds the defaults (no date, no code)."""

    defaults: Mapping[str, tuple[Any, Any]]
    """column → (dtype, default)"""
    ids: dict[str, int] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    """the id of each row"""
    columns: dict[str, Array] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, (dtype, default) in self.defaults.items():
            self.columns[name] = np.full(0, default, dtype=dtype)

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, keys: Sequence[str]) -> Array:
        """Row numbers of the ids, adding rows for new ones."""
        ids = self.ids
        before = len(ids)
        out = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):
            position = ids.get(key)
            if position is None:
                position = ids[key] = len(ids)
                self.keys.append(key)
            out[i] = position
        added = len(ids) - before
        if added:
            for name, (dtype, default) in self.defaults.items():
                more = np.full(added, default, dtype=dtype)
                self.columns[name] = np.concatenate((self.columns[name], more))
        return out

    def set(self, positions: Array, values: Mapping[str, Array]) -> None:
        """Overwrite columns of the given rows."""
        for name, column in values.items():
            self.columns[name][positions] = column


@dataclass
class History:
    """Versioned facts of aggregates (extensions, amendments …), sorted by aggregate, date and
    version, so the last row of an aggregate on or before a day is the one in effect."""

    names: tuple[str, ...]
    columns: dict[str, Array] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("owner", "on", "version", *self.names):
            self.columns.setdefault(name, np.zeros(0, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.columns["owner"])

    def replace(self, owners: Array, rows: Mapping[str, Array]) -> None:
        """Drop every row of `owners` and add `rows` (their complete history now; every row's
        owner is among `owners`, or the history was empty)."""
        current = self.columns["owner"]
        if len(owners) and len(current):
            touched = np.zeros(max(int(current.max()), int(owners.max())) + 1, dtype=np.bool_)
            touched[owners] = True
            keep = ~touched[current]
            kept = {name: column[keep] for name, column in self.columns.items()}
        else:
            kept = self.columns
        # Only the new rows are sorted; an owner's rows all go where the owner belongs (the
        # kept rows hold none of its rows), in their sorted order.
        order = np.lexsort((rows["version"], rows["on"], rows["owner"]))
        at = np.searchsorted(kept["owner"], rows["owner"][order])
        self.columns = {
            name: np.insert(column, at, rows[name][order].astype(column.dtype))
            for name, column in kept.items()
        }

    def latest(self, size: int, on: int, value: str, *, known: bool = False) -> Array:
        """Per aggregate (0 … size − 1), `value` of its latest row dated on or before `on`
        (with `known`: among rows where `value` is set), -1 where there is none."""
        c = self.columns
        mask = c["on"] <= on
        if known:
            mask &= c[value] != -1
        return self._last_of(mask, size, (value,))[value]

    def latest_each(self, size: int, on: int, values: tuple[str, ...]) -> dict[str, Array]:
        """`latest` of several values of the same rows, the rows found once."""
        return self._last_of(self.columns["on"] <= on, size, values)

    def _last_of(self, mask: Array, size: int, values: tuple[str, ...]) -> dict[str, Array]:
        c = self.columns
        rows = np.flatnonzero(mask)
        owners = c["owner"][rows]
        last = np.ones(len(rows), dtype=np.bool_)
        last[:-1] = owners[1:] != owners[:-1]
        at, chosen = owners[last], rows[last]
        out = {}
        for value in values:
            out[value] = np.full(size, -1, dtype=np.int32)
            out[value][at] = c[value][chosen]
        return out

    def first_on(self, size: int) -> Array:
        """Per aggregate (0 … size − 1), the date of its earliest row, NEVER where none."""
        owners = self.columns["owner"]
        first = np.ones(len(owners), dtype=np.bool_)
        first[1:] = owners[1:] != owners[:-1]
        out = np.full(size, NEVER, dtype=np.int32)
        out[owners[first]] = self.columns["on"][first]
        return out
