"""Batched, idempotent, order-tolerant upserts into one generation of the read models.

Each kind of change touches only its own columns:
- plain facts (`withdrawn_on`, `ended_on` …) are set with `coalesce(new, old)`;
- the aggregate's `version` keeps the highest seen;
- a versioned group (the latest amendment, fill, extension or arrangement) is replaced only by
  a higher version, and its `*_multi` flag records that more than one distinct version exists;
- history rows are inserted once per (aggregate, version).
So applying the same event twice, or events in any order, ends in the same rows.

A batch is first folded in memory (`Changes.add`): the rows of every kind for one aggregate
merge into one row per table and key by exactly those rules, so the database sees one row per
aggregate and table. `write` then merges each table's rows with one statement: on PostgreSQL
`INSERT … SELECT FROM unnest(<one array per column>) ON CONFLICT DO UPDATE` through asyncpg
(one round trip per table and batch, no per-row SQL), elsewhere (SQLite, the embedded default)
an `executemany` of the same merge.

`write` (the live projection) also appends the batch to the change log (`rm_changes`) as its
last statements: it takes the next revision from `rm_revision`, whose row lock it then holds
until commit, so revisions commit in order and a reader that sees revision R sees every
change up to R.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.reporting.adapters.tables import ReadModels, rm_changes, rm_revision

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


def _template(rules: TableRules) -> Row:
    if rules.history:
        return {}
    row: Row = dict.fromkeys(rules.keys)
    row.update(dict.fromkeys(rules.plain))
    for group in rules.groups:
        row.update(dict.fromkeys((group.version, *group.columns)))
    row.update(dict.fromkeys(rules.booleans, False))
    row["version"] = None
    return row


_FOLDS = {name: _Fold(kind, _template(TABLES[kind.table])) for name, kind in KINDS.items()}


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
            ids = {key[0] if isinstance(key, tuple) else key for key in rows}
            (needs if table.startswith("need") else secondments).update(ids)
        return sorted(needs), sorted(secondments)

    def clear(self) -> None:
        """Forget the folded rows (after they were written)."""
        self.tables.clear()
        self.events = 0


# ----- PostgreSQL: one INSERT … SELECT FROM unnest(…) ON CONFLICT per table -----------------


def _pg_type(table: Table, column: str) -> str:
    kind = table.c[column].type
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, String):
        return "text"
    raise TypeError(f"no array type for {table.name}.{column}: {kind!r}")


def _q(name: str) -> str:
    return f'"{name}"'


def pg_merge_sql(table: Table, rules: TableRules) -> tuple[str, list[str]]:
    """The merge statement for one table and the column order of its array parameters."""
    columns = [c.name for c in table.columns] if rules.history else list(_template(rules))
    arrays = ", ".join(f"${i}::{_pg_type(table, c)}[]" for i, c in enumerate(columns, 1))
    head = (
        f"INSERT INTO {_q(table.name)} AS t ({', '.join(_q(c) for c in columns)}) "
        f"SELECT * FROM unnest({arrays}) ON CONFLICT ({', '.join(_q(k) for k in rules.keys)}) "
    )
    if rules.history:
        return head + "DO NOTHING", columns
    sets: dict[str, str] = {}
    for column in rules.plain:
        sets[column] = f"coalesce(excluded.{_q(column)}, t.{_q(column)})"
    for column in rules.flags:
        sets[column] = f"t.{_q(column)} OR excluded.{_q(column)}"
    for group in rules.groups:
        new, old = f"excluded.{_q(group.version)}", f"t.{_q(group.version)}"
        newer = f"{new} IS NOT NULL AND ({old} IS NULL OR {new} > {old})"
        for column in (group.version, *group.columns):
            sets[column] = f"CASE WHEN {newer} THEN excluded.{_q(column)} ELSE t.{_q(column)} END"
        several = f"coalesce({old} <> {new}, false)"
        current = sets.get(group.multi, f"t.{_q(group.multi)} OR excluded.{_q(group.multi)}")
        sets[group.multi] = f"{current} OR {several}"
    sets["version"] = 'greatest(t."version", excluded."version")'
    body = ", ".join(f"{_q(c)} = {expression}" for c, expression in sets.items())
    return head + f"DO UPDATE SET {body}", columns


PG_CHUNK = 20_000
"""Rows per statement (a rebuild writes hundreds of thousands at once)."""


async def _pg_write(conn: AsyncConnection, models: ReadModels, changes: Changes) -> None:
    # Through SQLAlchemy's connection (its paramstyle for asyncpg is `$n`): statements join
    # its transaction and errors arrive as SQLAlchemy's (which the transport classifies).
    for key, rows in changes.in_order():
        table: Table = getattr(models, key)
        sql, columns = _pg_sql(table, TABLES[key])
        # Key order: concurrent transactions lock the rows they share in the same order.
        values = [rows[k] for k in sorted(rows)]
        for start in range(0, len(values), PG_CHUNK):
            chunk = values[start : start + PG_CHUNK]
            await conn.exec_driver_sql(sql, tuple([row[c] for row in chunk] for c in columns))


_PG_SQL: dict[str, tuple[str, list[str]]] = {}


def _pg_sql(table: Table, rules: TableRules) -> tuple[str, list[str]]:
    cached = _PG_SQL.get(table.name)
    if cached is None:
        cached = _PG_SQL[table.name] = pg_merge_sql(table, rules)
    return cached


async def copy_fresh(conn: AsyncConnection, models: ReadModels, changes: Changes) -> None:
    """Load folded rows into tables known to be empty: binary COPY on PostgreSQL (no conflict
    handling needed, the rows are unique per key), `write_on` elsewhere."""
    if conn.dialect.name != "postgresql":
        await write_on(conn, models, changes)
        return
    # The COPY goes to the driver directly: make sure SQLAlchemy's transaction has begun.
    await conn.exec_driver_sql("SELECT 1")
    driver: Any = (await conn.get_raw_connection()).driver_connection
    for key, rows in changes.in_order():
        table: Table = getattr(models, key)
        _, columns = _pg_sql(table, TABLES[key])
        await driver.copy_records_to_table(
            table.name,
            columns=columns,
            records=[tuple([row[c] for c in columns]) for row in rows.values()],
        )


# ----- SQLite (and any other dialect): the same merge with SQLAlchemy, executemany ---------


def _insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _statement(dialect: str, table: Table, rules: TableRules) -> Any:
    stmt = _insert(dialect, table)
    if rules.history:
        return stmt.on_conflict_do_nothing(index_elements=list(rules.keys))
    excluded = stmt.excluded
    sets: dict[str, Any] = {}
    for column in rules.plain:
        sets[column] = func.coalesce(excluded[column], table.c[column])
    for column in rules.flags:
        sets[column] = or_(table.c[column], excluded[column])
    for group in rules.groups:
        new, old = excluded[group.version], table.c[group.version]
        newer: ColumnElement[bool] = and_(new.is_not(None), or_(old.is_(None), new > old))
        for column in (group.version, *group.columns):
            sets[column] = case((newer, excluded[column]), else_=table.c[column])
        several = and_(old.is_not(None), new.is_not(None), old != new)
        current = sets.get(group.multi, or_(table.c[group.multi], excluded[group.multi]))
        sets[group.multi] = or_(current, several)
    sets["version"] = case(
        (
            or_(table.c.version.is_(None), excluded.version > table.c.version),
            excluded.version,
        ),
        else_=table.c.version,
    )
    return stmt.on_conflict_do_update(index_elements=list(rules.keys), set_=sets)


async def write(session: AsyncSession, models: ReadModels, changes: Changes) -> None:
    """Apply a batch of folded changes in the session's transaction and log it."""
    conn = await session.connection()
    await write_on(conn, models, changes)
    await log_changes(conn, changes)


CHANGES_KEPT = 2048
"""Revisions kept in `rm_changes`; a reader further behind reloads everything."""


async def log_changes(conn: AsyncConnection, changes: Changes) -> int:
    """Append the batch's touched aggregates to the change log under the next revision; the
    caller commits soon after (the revision row stays locked until then)."""
    if not changes.tables:
        return 0
    revision = (
        await conn.execute(
            update(rm_revision)
            .where(rm_revision.c.id == 1)
            .values(revision=rm_revision.c.revision + 1)
            .returning(rm_revision.c.revision)
        )
    ).scalar_one()
    needs, secondments = changes.touched()
    await conn.execute(
        insert(rm_changes).values(
            revision=revision, need_ids=json.dumps(needs), secondment_ids=json.dumps(secondments)
        )
    )
    if revision % 256 == 0:
        old = rm_changes.c.revision <= revision - CHANGES_KEPT
        await conn.execute(delete(rm_changes).where(old))
    return int(revision)


async def write_on(conn: AsyncConnection, models: ReadModels, changes: Changes) -> None:
    """`write` on a connection (in its transaction)."""
    if conn.dialect.name == "postgresql":
        await _pg_write(conn, models, changes)
        return
    for key, rows in changes.in_order():
        table: Table = getattr(models, key)
        await conn.execute(_statement(conn.dialect.name, table, TABLES[key]), list(rows.values()))
