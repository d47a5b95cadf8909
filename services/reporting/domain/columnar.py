"""The read models in memory, column by column, and the evaluation's counts computed over them.

Why: an evaluation needs every secondment and need of a phase as at a date (about 100,000 rows
each at the plan's scale); grouping them in the database costs about a second each time
(docs/performance.md), counting over numpy columns a few milliseconds. The columns mirror the
read-model rows (`adapters/tables.py`) exactly, with the same as-of rules as the tables'
documentation: the latest versioned fact when it is the only one, the history when the row is
flagged `*_multi` / `reopened`. `adapters/snapshot.py` loads and refreshes them; nothing here
does I/O.

Encoding: strings become small integers per vocabulary (-1 for none), dates their proleptic
ordinal (`NEVER` for none, so "on or before a day" is one comparison).
"""

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
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
        rows = np.flatnonzero(mask)
        owners = c["owner"][rows]
        last = np.ones(len(rows), dtype=np.bool_)
        last[:-1] = owners[1:] != owners[:-1]
        out = np.full(size, -1, dtype=np.int32)
        out[owners[last]] = c[value][rows[last]]
        return out


def _defaults(dates: Sequence[str], codes: Sequence[str], bools: Sequence[str]) -> dict[str, Any]:
    out: dict[str, tuple[Any, Any]] = {}
    out.update({d: (np.int32, NEVER) for d in dates})
    out.update({c: (np.int32, -1) for c in codes})
    out.update({b: (np.bool_, False) for b in bools})
    return out


SECONDMENT_DATES = (
    "start",
    "planned_end",
    "ended",
    "cancelled",
    "ext_decided",
    "ext_end",
    "arr_on",
)
SECONDMENT_CODES = (
    "need",
    "official",
    "home",
    "host",
    "sector",
    "ethnicity",
    "gender",
    "reason",
    "rating",
    "arrangement",
)
NEED_DATES = ("raised", "withdrawn", "filled", "amended", "am_raised")
NEED_CODES = ("host", "sector", "positions", "am_host", "am_sector", "am_positions")
FILLED, REOPENED = 1, 0


@dataclass
class Snapshot:
    """One generation of the read models in memory."""

    units: Vocabulary = field(default_factory=Vocabulary)
    sectors: Vocabulary = field(default_factory=Vocabulary)
    ethnicities: Vocabulary = field(default_factory=Vocabulary)
    genders: Vocabulary = field(default_factory=Vocabulary)
    officials: Vocabulary = field(default_factory=Vocabulary)
    reasons: Vocabulary = field(default_factory=Vocabulary)
    ratings: Vocabulary = field(default_factory=Vocabulary)
    arrangements: Vocabulary = field(default_factory=Vocabulary)
    secondments: Keyed = field(
        default_factory=lambda: Keyed(
            _defaults(SECONDMENT_DATES, SECONDMENT_CODES, ("ext_multi", "arr_multi"))
        )
    )
    needs: Keyed = field(
        default_factory=lambda: Keyed(_defaults(NEED_DATES, NEED_CODES, ("reopened", "am_multi")))
    )
    extensions: History = field(default_factory=lambda: History(("end",)))
    arrangement_history: History = field(default_factory=lambda: History(("code",)))
    amendments: History = field(
        default_factory=lambda: History(("host", "sector", "positions", "raised"))
    )
    fills: History = field(default_factory=lambda: History(("kind",)))

    # ----- loading: rows as the adapter reads them, in the documented column order -----

    def put_secondments(self, rows: Sequence[Sequence[Any]]) -> Array:
        """Rows of (secondment_id, need_id, official_id, home_unit, host_unit, sector,
        ethnicity, gender, start_date, planned_end_date, ended_on, end_reason, rating,
        cancelled_on, ext_multi, ext_decided_on, ext_planned_end, arr_multi, arrangement,
        arr_effective); returns their row numbers."""
        if not rows:
            return np.zeros(0, dtype=np.int64)
        c = list(zip(*rows, strict=True))
        positions = self.secondments.positions(c[0])
        need_rows = self.needs.positions([n for n in c[1] if n is not None])
        need = np.full(len(rows), -1, dtype=np.int64)
        need[[i for i, n in enumerate(c[1]) if n is not None]] = need_rows
        self.secondments.set(
            positions,
            {
                "need": need,
                "official": self.officials.codes(c[2]),
                "home": self.units.codes(c[3]),
                "host": self.units.codes(c[4]),
                "sector": self.sectors.codes(c[5]),
                "ethnicity": self.ethnicities.codes(c[6]),
                "gender": self.genders.codes(c[7]),
                "start": days(c[8]),
                "planned_end": days(c[9]),
                "ended": days(c[10]),
                "reason": self.reasons.codes(c[11]),
                "rating": self.ratings.codes(c[12]),
                "cancelled": days(c[13]),
                "ext_multi": flags(c[14]),
                "ext_decided": days(c[15]),
                "ext_end": days(c[16]),
                "arr_multi": flags(c[17]),
                "arrangement": self.arrangements.codes(c[18]),
                "arr_on": days(c[19]),
            },
        )
        return positions

    def put_needs(self, rows: Sequence[Sequence[Any]]) -> Array:
        """Rows of (need_id, host_unit, sector, positions, raised_on, withdrawn_on,
        filled_on, reopened, am_multi, amended_on, am_host_unit, am_sector, am_positions,
        am_raised_on); returns their row numbers."""
        if not rows:
            return np.zeros(0, dtype=np.int64)
        c = list(zip(*rows, strict=True))
        positions = self.needs.positions(c[0])
        self.needs.set(
            positions,
            {
                "host": self.units.codes(c[1]),
                "sector": self.sectors.codes(c[2]),
                "positions": ints(c[3]),
                "raised": days(c[4]),
                "withdrawn": days(c[5]),
                "filled": days(c[6]),
                "reopened": flags(c[7]),
                "am_multi": flags(c[8]),
                "amended": days(c[9]),
                "am_host": self.units.codes(c[10]),
                "am_sector": self.sectors.codes(c[11]),
                "am_positions": ints(c[12]),
                "am_raised": days(c[13]),
            },
        )
        return positions

    def put_extensions(self, owners: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """The complete extension history of the secondments `owners`: rows of
        (secondment_id, version, decided_on, new_planned_end_date)."""
        c = _columns(rows, 4)
        self.extensions.replace(
            self.secondments.positions(owners),
            {
                "owner": self.secondments.positions(c[0]),
                "version": ints(c[1]),
                "on": days(c[2]),
                "end": days(c[3]),
            },
        )

    def put_arrangements(self, owners: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (secondment_id, version, effective_date, arrangement)."""
        c = _columns(rows, 4)
        self.arrangement_history.replace(
            self.secondments.positions(owners),
            {
                "owner": self.secondments.positions(c[0]),
                "version": ints(c[1]),
                "on": days(c[2]),
                "code": self.arrangements.codes(c[3]),
            },
        )

    def put_amendments(self, owners: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (need_id, version, amended_on, host_unit, sector, positions, raised_on)."""
        c = _columns(rows, 7)
        self.amendments.replace(
            self.needs.positions(owners),
            {
                "owner": self.needs.positions(c[0]),
                "version": ints(c[1]),
                "on": days(c[2]),
                "host": self.units.codes(c[3]),
                "sector": self.sectors.codes(c[4]),
                "positions": ints(c[5]),
                # a missing date must read "not set" (-1) for `latest(known=True)`
                "raised": np.fromiter(
                    (-1 if v is None else v.toordinal() for v in c[6]), dtype=np.int32
                ),
            },
        )

    def put_fills(self, owners: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (need_id, version, on_date, kind)."""
        c = _columns(rows, 4)
        self.fills.replace(
            self.needs.positions(owners),
            {
                "owner": self.needs.positions(c[0]),
                "version": ints(c[1]),
                "on": days(c[2]),
                "kind": np.fromiter(
                    (FILLED if k == "FILLED" else REOPENED for k in c[3]), dtype=np.int32
                ),
            },
        )


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    if not rows:
        return [() for _ in range(width)]
    return list(zip(*rows, strict=True))


# ----- counting -------------------------------------------------------------------------------

DIMENSION_COLUMNS = {
    "home_unit": "home",
    "host_unit": "host",
    "sector": "sector",
    "ethnicity": "ethnicity",
    "gender": "gender",
}

Counts = dict[str, int]


@dataclass(frozen=True)
class Selection:
    """Which facts count: secondments started and needs raised from `first` to `last`, as at
    the end of `as_of`, restricted by the filters (already expanded to unit codes)."""

    first: dt.date
    last: dt.date
    as_of: dt.date
    home_units: Collection[str] | None = None
    host_units: Collection[str] | None = None
    sector: str | None = None


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


def _among(vocabulary: Vocabulary, wanted: Collection[str]) -> Array:
    """Numbers of the wanted values that were ever seen (an unseen one matches nothing)."""
    return np.array([c for c in (vocabulary.find(v) for v in wanted) if c >= 0], dtype=np.int32)


def _equal(codes: Array, vocabulary: Vocabulary, wanted: str) -> Array:
    return np.isin(codes, _among(vocabulary, (wanted,)))


def _distinct(values: Array) -> Array:
    """The distinct values, sorted (a plain sort: `np.unique` hashes, several times slower
    on these sizes)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    first = np.empty(len(ordered), dtype=np.bool_)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def _count_by(groups: Array, size: int, weights: Array | None = None) -> Array:
    """Per group 0 … size − 1, the rows (or the sum of `weights`); rows of no group (-1)
    count nowhere."""
    valid = groups >= 0
    if not valid.all():
        groups = groups[valid]
        weights = None if weights is None else weights[valid]
    return np.bincount(groups, weights=weights, minlength=size)[:size].astype(np.int64)


def _counted(snapshot: Snapshot) -> Array:
    """Secondments that count at all: started (an official) and never cancelled."""
    s = snapshot.secondments.columns
    return (s["official"] >= 0) & (s["cancelled"] == NEVER)  # type: ignore[no-any-return]


def _chosen(snapshot: Snapshot, selection: Selection, counted: Array) -> Array:
    """Secondments of the selection: counted, started in the window, matching the filters."""
    s = snapshot.secondments.columns
    chosen = (
        counted
        & (s["start"] >= selection.first.toordinal())
        & (s["start"] <= selection.last.toordinal())
    )
    if selection.home_units is not None:
        chosen &= np.isin(s["home"], _among(snapshot.units, selection.home_units))
    if selection.host_units is not None:
        chosen &= np.isin(s["host"], _among(snapshot.units, selection.host_units))
    if selection.sector is not None:
        chosen &= _equal(s["sector"], snapshot.sectors, selection.sector)
    return chosen


def _planned_ends(snapshot: Snapshot, on: int, rows: Array) -> Array:
    """Planned end of the rows after the extensions decided by the day."""
    s = snapshot.secondments.columns
    latest = snapshot.extensions.latest(len(snapshot.secondments), on, "end")[rows]
    base = s["planned_end"][rows]
    return np.where(
        s["ext_multi"][rows],
        np.where(latest != -1, latest, base),
        np.where(s["ext_decided"][rows] <= on, s["ext_end"][rows], base),
    )


def _need_fields(snapshot: Snapshot, on: int) -> dict[str, Array]:
    """Every need's raised_on, host, sector and positions as amended by the day."""
    n = snapshot.needs.columns
    size = len(snapshot.needs)
    history = snapshot.amendments

    def as_of(name: str, amended: str, base: str, unset: int) -> Array:
        latest = history.latest(size, on, name, known=True)
        return np.where(
            n["am_multi"],
            np.where(latest != -1, latest, n[base]),
            np.where((n["amended"] <= on) & (n[amended] != unset), n[amended], n[base]),
        )

    return {
        "raised": as_of("raised", "am_raised", "raised", NEVER),
        "host": as_of("host", "am_host", "host", -1),
        "sector": as_of("sector", "am_sector", "sector", -1),
        "positions": as_of("positions", "am_positions", "positions", -1),
    }


def _open_state(snapshot: Snapshot, on: int, rows: Array) -> tuple[Array, Array]:
    """(withdrawn, filled) of the rows by the day: filled = every position taken (the latest
    of NeedFilled / NeedReopened), not withdrawn."""
    n = snapshot.needs.columns
    withdrawn = n["withdrawn"][rows] <= on
    latest_kind = snapshot.fills.latest(len(snapshot.needs), on, "kind")[rows]
    filled = (
        np.where(n["reopened"][rows], latest_kind == FILLED, n["filled"][rows] <= on) & ~withdrawn
    )
    return withdrawn, filled


def tally(snapshot: Snapshot, selection: Selection, unit_key: KeyOf) -> Tally:
    """Count the selection's secondments and needs, grouped, as at the end of `as_of`."""
    on = selection.as_of.toordinal()
    unit_groups, unit_names = snapshot.units.groups(unit_key)
    s = snapshot.secondments.columns
    n_sec = len(snapshot.secondments)
    counted = _counted(snapshot)
    rows = np.flatnonzero(_chosen(snapshot, selection, counted))

    def col(name: str) -> Array:
        return s[name][rows]

    ended = col("ended") <= on
    active = ~ended
    reasons = col("reason")
    completed = ended & _equal(reasons, snapshot.reasons, "COMPLETED")
    early = ended & _equal(reasons, snapshot.reasons, "TERMINATED_EARLY")
    # planned end after the extensions decided by the day
    planned = _planned_ends(snapshot, on, rows)
    overdue = active & (planned < on)
    # post arrangement in effect by the day
    latest_arrangement = snapshot.arrangement_history.latest(n_sec, on, "code")[rows]
    arrangement = np.where(
        col("arr_multi"),
        latest_arrangement,
        np.where(col("arr_on") <= on, col("arrangement"), -1),
    )
    promoted = ended & _equal(arrangement, snapshot.arrangements, "PROMOTED")
    measures = {
        "active": active,
        "ended": ended,
        "completed": completed,
        "terminated_early": early,
        "overdue": overdue,
        "promoted": promoted,
    }
    officials = col("official").astype(np.int64)
    total: Counts = {"started": len(rows)}
    total.update({k: int(np.count_nonzero(v)) for k, v in measures.items()})
    total["officials"] = len(_distinct(officials))

    groups: dict[str, dict[str, Counts]] = {}
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
        width = max(size, 1)
        pairs = _distinct((officials * width + keys)[keys >= 0])
        counts["officials"] = _count_by(pairs % width, size)
        groups[dimension] = {
            names[g]: {k: int(v[g]) for k, v in counts.items()} for g in np.flatnonzero(started)
        }

    # ----- ended secondments: durations, ratings, arrangements
    durations = _histogram((col("ended") - col("start"))[ended])
    ratings = _named(snapshot.ratings, col("rating")[ended])
    arrangements = _named(snapshot.arrangements, arrangement[ended])

    # ----- needs
    needs, need_groups = _tally_needs(snapshot, selection, on, counted, unit_groups, unit_names)
    return Tally(
        secondments=total,
        groups=groups,
        needs=needs,
        need_groups=need_groups,
        durations=durations,
        ratings=ratings,
        arrangements=arrangements,
    )


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


def _histogram(values: Array) -> dict[int, int]:
    """Value → count (values are days, normally from 0 to a few hundred)."""
    if not len(values):
        return {}
    low = min(int(values.min()), 0)
    counts = np.bincount(values - low)
    return {int(v) + low: int(counts[v]) for v in np.flatnonzero(counts)}


def _vocabulary(snapshot: Snapshot, column: str) -> Vocabulary:
    return {
        "home": snapshot.units,
        "host": snapshot.units,
        "sector": snapshot.sectors,
        "ethnicity": snapshot.ethnicities,
        "gender": snapshot.genders,
    }[column]


def _named(vocabulary: Vocabulary, codes: Array) -> Counts:
    counts = np.bincount(codes[codes >= 0], minlength=len(vocabulary.values))
    return {vocabulary.values[i]: int(counts[i]) for i in np.flatnonzero(counts)}


def _tally_needs(
    snapshot: Snapshot,
    selection: Selection,
    on: int,
    counted: Array,
    unit_groups: Array,
    unit_names: list[str],
) -> tuple[Counts, dict[str, dict[str, Counts]]]:
    n = snapshot.needs.columns
    size = len(snapshot.needs)
    fields = _need_fields(snapshot, on)
    raised, host, sector, positions = (fields[k] for k in ("raised", "host", "sector", "positions"))
    chosen = (
        (n["raised"] != NEVER)
        & (raised >= selection.first.toordinal())
        & (raised <= selection.last.toordinal())
    )
    if selection.host_units is not None:
        chosen &= np.isin(host, _among(snapshot.units, selection.host_units))
    if selection.sector is not None:
        chosen &= _equal(sector, snapshot.sectors, selection.sector)
    rows = np.flatnonzero(chosen)
    withdrawn, filled = _open_state(snapshot, on, rows)
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
            per[name] = _count_by(codes, count, measures[name])
        groups[dimension] = {
            names[g]: {k: int(v[g]) for k, v in per.items()} for g in np.flatnonzero(raised_per)
        }
    return total, groups


# ----- timeline and alerts ----------------------------------------------------------------


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
    rows = np.flatnonzero(_chosen(snapshot, selection, _counted(snapshot)))

    def per_month(days_: Array) -> Array:
        return _count_by(np.searchsorted(bounds, days_, side="right") - 1, len(months))

    ended = s["ended"][rows]
    started = per_month(s["start"][rows])
    finished = per_month(ended[ended <= selection.as_of.toordinal()])
    return [
        (f"{m.year:04d}-{m.month:02d}", int(started[i]), int(finished[i]))
        for i, m in enumerate(months)
    ]


@dataclass(frozen=True)
class AlertLists:
    """What needs attention as at the end of a day (all phases): the first `limit` of each
    list, and how many there are in all."""

    ending_soon: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    open_needs: list[dict[str, Any]]
    counts: Counts


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
    snapshot: Snapshot, as_of: dt.date, *, ending_within: int, open_longer_than: int, limit: int
) -> AlertLists:
    """Active secondments whose planned end (as extended) is within `ending_within` days
    (inclusive) or past, and needs open (not withdrawn, not filled) for at least
    `open_longer_than` days."""
    on = as_of.toordinal()
    s = snapshot.secondments.columns
    active = np.flatnonzero(_counted(snapshot) & (s["start"] <= on) & (s["ended"] > on))
    planned = _planned_ends(snapshot, on, active)
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

    n = snapshot.needs.columns
    fields = _need_fields(snapshot, on)
    candidates = np.flatnonzero(
        (n["raised"] != NEVER) & (fields["raised"] <= on - open_longer_than)
    )
    withdrawn, filled = _open_state(snapshot, on, candidates)
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
        },
    )
