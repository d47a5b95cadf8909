"""The merge statement of each read-model table, built from its rules (`adapters/changes.py`):
on PostgreSQL `INSERT … SELECT FROM unnest(<one array per column>) ON CONFLICT DO UPDATE`
(raw SQL for asyncpg, one round trip per table and batch), elsewhere (SQLite, the embedded
default) the same merge as a SQLAlchemy statement for `executemany`.
"""

import functools
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, Table, and_, case, func, or_
from sqlalchemy.sql.elements import ColumnElement

from services.reporting.service_layer.changes import TableRules, template
from shared.infra.db import insert_on_conflict

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
    columns = [c.name for c in table.columns] if rules.history else list(template(rules))
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


_PG_SQL: dict[str, tuple[str, list[str]]] = {}


def pg_sql(table: Table, rules: TableRules) -> tuple[str, list[str]]:
    """`pg_merge_sql`, built once per table."""
    cached = _PG_SQL.get(table.name)
    if cached is None:
        cached = _PG_SQL[table.name] = pg_merge_sql(table, rules)
    return cached


# ----- SQLite (and any other dialect): the same merge with SQLAlchemy, executemany ---------


@functools.cache
def merge_statement(dialect: str, table: Table, rules: TableRules) -> Any:
    """The merge as a SQLAlchemy insert … on conflict, for `executemany`; built once per table
    (a few dozen expressions: building them cost more than running them on a small batch)."""
    stmt = insert_on_conflict(dialect, table)
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
