"""The kinds of change a projection makes and the in-memory fold of a batch.

Each kind of change touches only its own columns:
- plain facts (`withdrawn_on`, `ended_on` …) are set with `coalesce(new, old)`;
- the aggregate's `version` keeps the highest seen;
- a versioned group (the latest amendment, fill, extension or arrangement) is replaced only by
  a higher version, and its `*_multi` flag records that more than one distinct version exists;
- history rows are inserted once per (aggregate, version).
So applying the same event twice, or events in any order, ends in the same rows.

A batch is first folded in memory (`Changes.add`): the rows of every kind for one aggregate
merge into one row per table and key by exactly those rules, so the database sees one row per
aggregate and table (`adapters/writer.py` writes them, with the statements of
`adapters/merge_sql.py`).
"""

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Group:
    """Columns replaced together by a higher version, with a flag for "several versions"."""

    version: str
    columns: tuple[str, ...]
    multi: str


@dataclass(frozen=True)
class Kind:
    """How one kind of change lands: which table, key, columns and rules."""

    table: str
    keys: tuple[str, ...]
    plain: tuple[str, ...] = ()
    group: Group | None = None
    flags: tuple[str, ...] = ()
    history: bool = False


NEED_AMENDMENT = Group(
    "am_version",
    (
        "amended_on",
        "am_host_unit",
        "am_host_unit_name",
        "am_sector",
        "am_positions",
        "am_raised_on",
    ),
    "am_multi",
)
NEED_FILL = Group("fill_version", ("filled_on",), "reopened")
EXTENSION = Group("ext_version", ("ext_decided_on", "ext_planned_end"), "ext_multi")
ARRANGEMENT = Group(
    "arr_version",
    ("arrangement", "new_position_rank", "arr_effective", "arr_destination"),
    "arr_multi",
)

NEED_BASE_COLUMNS = ("host_unit", "host_unit_name", "sector", "positions", "raised_on")
SECONDMENT_BASE_COLUMNS = (
    "need_id",
    "official_id",
    "home_unit",
    "home_unit_name",
    "host_unit",
    "host_unit_name",
    "sector",
    "ethnicity",
    "gender",
    "start_date",
    "planned_end_date",
)

KINDS: dict[str, Kind] = {
    "need_raised": Kind("needs", ("need_id",), plain=NEED_BASE_COLUMNS),
    "need_withdrawn": Kind("needs", ("need_id",), plain=("withdrawn_on",)),
    "need_filled": Kind("needs", ("need_id",), group=NEED_FILL),
    "need_reopened": Kind("needs", ("need_id",), flags=("reopened",)),
    "need_amended": Kind("needs", ("need_id",), group=NEED_AMENDMENT),
    "need_amendment": Kind("need_amendments", ("need_id", "version"), history=True),
    "need_fill": Kind("need_fills", ("need_id", "version"), history=True),
    "secondment_started": Kind("secondments", ("secondment_id",), plain=SECONDMENT_BASE_COLUMNS),
    "secondment_received": Kind("secondments", ("secondment_id",), plain=("received_on",)),
    "secondment_extended": Kind("secondments", ("secondment_id",), group=EXTENSION),
    "secondment_ended": Kind(
        "secondments", ("secondment_id",), plain=("ended_on", "end_reason", "rating")
    ),
    "secondment_arranged": Kind("secondments", ("secondment_id",), group=ARRANGEMENT),
    "secondment_cancelled": Kind("secondments", ("secondment_id",), plain=("cancelled_on",)),
    "extension": Kind("extensions", ("secondment_id", "version"), history=True),
    "arrangement": Kind("arrangements", ("secondment_id", "version"), history=True),
    "promotion": Kind("promotions", ("secondment_id", "version"), history=True),
    "plan_version": Kind("plan_versions", ("plan_id", "version"), history=True),
}
"""Every kind of change a projection can make."""


@dataclass(frozen=True)
class TableRules:
    """How the folded rows of one table merge into it: the union of its kinds' rules."""

    name: str
    keys: tuple[str, ...]
    history: bool
    plain: tuple[str, ...]
    groups: tuple[Group, ...]
    flags: tuple[str, ...]

    @property
    def booleans(self) -> tuple[str, ...]:
        """Columns that are never null: `*_multi` and flags, false unless set."""
        return tuple(dict.fromkeys((*(g.multi for g in self.groups), *self.flags)))


def _table_rules() -> dict[str, TableRules]:
    by_table: dict[str, list[Kind]] = {}
    for kind in KINDS.values():
        by_table.setdefault(kind.table, []).append(kind)
    out = {}
    for name, kinds in by_table.items():
        out[name] = TableRules(
            name=name,
            keys=kinds[0].keys,
            history=kinds[0].history,
            plain=tuple(dict.fromkeys(c for k in kinds for c in k.plain)),
            groups=tuple(k.group for k in kinds if k.group is not None),
            flags=tuple(dict.fromkeys(f for k in kinds for f in k.flags)),
        )
    return out


TABLES = _table_rules()
"""Merge rules per table key of `ReadModels` (needs, need_amendments …)."""

UNCOPIED = frozenset({"plan_versions"})
"""Tables the in-memory copy does not hold (a few rows per locality and phase: the locality
plans' decisions), so the change log does not name their keys."""


class _Fold:
    """Merges one kind's rows into the table's folded rows (one per key)."""

    def __init__(self, kind: Kind, template: Row) -> None:
        self.kind = kind
        self.table = kind.table
        self.keys = kind.keys
        self.template = template

    def key(self, row: Row) -> Any:
        keys = self.keys
        return row[keys[0]] if len(keys) == 1 else tuple(row[k] for k in keys)

    def merge(self, into: Row, row: Row) -> None:
        """Apply `row` on top of `into` (an earlier folded row of the same key)."""
        kind = self.kind
        if kind.history:
            return  # (aggregate, version) says it all: the first one stays
        for column in kind.plain:
            value = row[column]
            if value is not None:
                into[column] = value
        group = kind.group
        if group is not None:
            new, old = row[group.version], into[group.version]
            if new is not None:
                if old is None or new > old:
                    into[group.version] = new
                    for column in group.columns:
                        into[column] = row[column]
                if old is not None and new != old:
                    into[group.multi] = True
        for flag in kind.flags:
            into[flag] = True
        version = row["version"]
        if version is not None and (into["version"] is None or version > into["version"]):
            into["version"] = version


def template(rules: TableRules) -> Row:
    """A folded row of the table with every column unset (booleans false)."""
    if rules.history:
        return {}
    row: Row = dict.fromkeys(rules.keys)
    row.update(dict.fromkeys(rules.plain))
    for group in rules.groups:
        row.update(dict.fromkeys((group.version, *group.columns)))
    row.update(dict.fromkeys(rules.booleans, False))
    row["version"] = None
    return row


_FOLDS = {name: _Fold(kind, template(TABLES[kind.table])) for name, kind in KINDS.items()}


@dataclass
class Changes:
    """What a batch of events changes, folded to one row per table and key."""

    tables: dict[str, dict[Any, Row]] = field(default_factory=dict)
    events: int = 0

    def add(self, kind: str, row: Row) -> None:
        """Fold one row of one kind into the batch's rows."""
        fold = _FOLDS[kind]
        rows = self.tables.get(fold.table)
        if rows is None:
            rows = self.tables[fold.table] = {}
        key = fold.key(row)
        folded = rows.get(key)
        if folded is None:
            rows[key] = fold.template | row
        else:
            fold.merge(folded, row)

    def __len__(self) -> int:
        return sum(len(r) for r in self.tables.values())

    def in_order(self) -> list[tuple[str, dict[Any, Row]]]:
        """The tables with rows, always in the same order (`TABLES`): concurrent transactions
        then lock the rows they share in the same order and cannot deadlock."""
        return [(key, self.tables[key]) for key in TABLES if self.tables.get(key)]

    def touched(self) -> tuple[list[str], list[str]]:
        """Ids of the needs and of the secondments whose rows (or histories) this batch
        changes, sorted."""
        needs: set[str] = set()
        secondments: set[str] = set()
        for table, rows in self.tables.items():
            if table in UNCOPIED:
                continue  # read from the database at each evaluation, not kept in memory
            ids = {key[0] if isinstance(key, tuple) else key for key in rows}
            (needs if table.startswith("need") else secondments).update(ids)
        return sorted(needs), sorted(secondments)

    def clear(self) -> None:
        """Forget the folded rows (after they were written)."""
        self.tables.clear()
        self.events = 0
