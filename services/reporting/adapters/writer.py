"""Batched, idempotent, order-tolerant upserts into one generation of the read models.

Each kind of change touches only its own columns:
- plain facts (`withdrawn_on`, `ended_on` …) are set with `coalesce(new, old)`;
- the aggregate's `version` keeps the highest seen;
- a versioned group (the latest amendment, fill, extension or arrangement) is replaced only by
  a higher version, and its `*_multi` flag records that more than one distinct version exists;
- history rows are inserted once per (aggregate, version).
So applying the same event twice, or events in any order, ends in the same rows. One
`executemany` per kind of change and batch.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, and_, case, func, or_, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.reporting.adapters.tables import ReadModels

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
    "arr_version", ("arrangement", "new_position_rank", "arr_effective"), "arr_multi"
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
}
"""Every kind of change a projection can make."""

# Row defaults so every row of an executemany carries the same keys.
_FLAGS = {"needs": ("reopened", "am_multi"), "secondments": ("ext_multi", "arr_multi")}


@dataclass
class Changes:
    """What a batch of events changes, grouped by kind of change, in arrival order."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    events: int = 0

    def add(self, kind: str, row: Row) -> None:
        """Queue one row of one kind."""
        self.rows.setdefault(kind, []).append(row)

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows.values())


def _insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _newer(t: Table, excluded: Any, column: str) -> ColumnElement[bool]:
    return or_(t.c[column].is_(None), excluded[column] > t.c[column])


def _statement(dialect: str, table: Table, kind: Kind) -> Any:
    stmt = _insert(dialect, table)
    if kind.history:
        return stmt.on_conflict_do_nothing(index_elements=list(kind.keys))
    excluded = stmt.excluded
    sets: dict[str, Any] = {}
    for column in kind.plain:
        sets[column] = func.coalesce(excluded[column], table.c[column])
    if kind.group is not None:
        g = kind.group
        newer = _newer(table, excluded, g.version)
        for column in (g.version, *g.columns):
            sets[column] = case((newer, excluded[column]), else_=table.c[column])
        sets[g.multi] = or_(
            table.c[g.multi],
            and_(table.c[g.version].is_not(None), table.c[g.version] != excluded[g.version]),
        )
    for column in kind.flags:
        sets[column] = true()
    sets["version"] = case(
        (_newer(table, excluded, "version"), excluded["version"]), else_=table.c["version"]
    )
    return stmt.on_conflict_do_update(index_elements=list(kind.keys), set_=sets)


def _complete(table_key: str, rows: Iterable[Row]) -> list[Row]:
    flags = _FLAGS.get(table_key, ())
    out = []
    for row in rows:
        full = dict.fromkeys(flags, False) | row
        out.append(full)
    return out


async def write(session: AsyncSession, models: ReadModels, changes: Changes) -> None:
    """Apply a batch of changes in the session's transaction (one executemany per kind)."""
    dialect = session.bind.dialect.name
    for kind_name, rows in changes.rows.items():
        if not rows:
            continue
        kind = KINDS[kind_name]
        table: Table = getattr(models, kind.table)
        await session.execute(_statement(dialect, table, kind), _complete(kind.table, rows))


def merge_counts(into: dict[str, int], more: Mapping[str, int]) -> None:
    """Add per-kind counts (progress reports)."""
    for key, value in more.items():
        into[key] = into.get(key, 0) + value


def flatten(batches: Sequence[Changes]) -> Changes:
    """One Changes from several, keeping order within each kind."""
    out = Changes()
    for batch in batches:
        out.events += batch.events
        for kind, rows in batch.rows.items():
            out.rows.setdefault(kind, []).extend(rows)
    return out
