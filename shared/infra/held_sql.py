"""The PostgreSQL statements that write a transaction's held rows (`fast_insert.Inserts`).

A command's few rows go in one statement, each table's INSERT a data-modifying `WITH` part,
with the commit's `pg_notify` and the guarded insert (`Guarded`) if there is one; a large run's
rows go one statement per table (ADR 0009). Built once per shape and cached.
"""

import contextlib
import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Table, TextClause, bindparam, insert, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

COMBINED_ROWS = 16
"""Rows one combined statement carries at most: a command's few. More (a large shared run) go
one statement per table, so that the caches of statements (ours, SQLAlchemy's compiled ones,
asyncpg's prepared ones per connection) only ever keep small shapes."""

NOTIFY = text("SELECT pg_notify(:notify_channel, '')")

Held = dict[tuple[Table, tuple[str, ...]], list[Mapping[str, Any]]]
"""Rows held back, by table and columns, in the order they were first given."""


@dataclass(frozen=True)
class Guarded:
    """An insert a conflict may leave undone, held with the others (`Inserts.guard`)."""

    table: Table
    row: Mapping[str, Any]
    conflict: str
    """What follows `VALUES (…)`: an `ON CONFLICT` clause; its parameters named `g_…`."""
    params: Mapping[str, Any]
    """The clause's parameters."""
    refused: Callable[[], Exception]
    """Raised when the insert wrote no row."""


GuardShape = tuple[Table, tuple[str, ...], str]
"""A guarded insert's table, columns and conflict clause (its parameters named `g{k}_…`)."""


@functools.cache
def insert_of(table: Table) -> Insert:
    """Built once per table (SQLAlchemy then reuses its compiled form)."""
    return insert(table)


@functools.lru_cache(maxsize=512)
def combined(
    shape: tuple[tuple[Table, tuple[str, ...], int], ...],
    dialect: Dialect,
    notify: bool,
    guards: tuple[GuardShape, ...] = (),
) -> TextClause:
    """One PostgreSQL statement inserting `count` rows of `keys` into each table (a
    data-modifying WITH part each, all run to completion), each guarded insert (`g0`, `g1`, …:
    one per command) a WITH part saying how many rows it wrote, and `pg_notify` when asked;
    built once per shape (SQLAlchemy and asyncpg then reuse its compiled and prepared forms)."""
    quote = dialect.identifier_preparer.quote
    parts: list[str] = []
    binds = []
    for k, (table, keys, conflict) in enumerate(guards):
        columns = ", ".join(quote(c) for c in keys)
        values = ", ".join(f":g{k}_{j}" for j in range(len(keys)))
        parts.append(
            f"g{k} AS (INSERT INTO {quote(table.name)} ({columns}) VALUES ({values}) "
            f"{conflict} RETURNING 1)"
        )
        binds += [bindparam(f"g{k}_{j}", type_=table.c[c].type) for j, c in enumerate(keys)]
    for i, (table, keys, count) in enumerate(shape):
        columns = ", ".join(quote(c) for c in keys)
        values = ", ".join(
            "(" + ", ".join(f":h{i}_{r}_{j}" for j in range(len(keys))) + ")" for r in range(count)
        )
        parts.append(f"h{i} AS (INSERT INTO {quote(table.name)} ({columns}) VALUES {values})")
        binds += [
            bindparam(f"h{i}_{r}_{j}", type_=table.c[c].type)
            for r in range(count)
            for j, c in enumerate(keys)
        ]
    if notify:
        binds.append(bindparam("notify_channel"))
    # A guarded insert that wrote nothing fails the whole statement (division by zero, at run
    # time: the count is a subquery): nothing of it stays, in a transaction or without one.
    counts = ", ".join(f"(SELECT count(*) FROM g{k})" for k in range(len(guards)))
    selected = [f"1 / LEAST({counts})" if guards else "1"]
    if notify:
        selected.append("pg_notify(:notify_channel, '')")
    return text(f"WITH {', '.join(parts)} SELECT {', '.join(selected)}").bindparams(*binds)


@functools.cache
def columns_of(table: Table, keys: frozenset[str]) -> tuple[str, ...]:
    """`keys` in the table's column order: rows given with their keys in another order join the
    same statement part, in the order they were given. A key that is no column is a bug: said
    at once, not when the rows go (as a KeyError a consumer would take for a poison event)."""
    columns = [c.key for c in table.c]
    unknown = keys - set(columns)
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    return tuple(k for k in columns if k in keys)


Statement = tuple[Any, Any, Guarded | None]
"""A statement, its parameters, and the guarded insert it fails on when that wrote nothing."""

GUARD_REFUSED = "22012"
"""SQLSTATE of the guard's division by zero: the guarded insert wrote no row."""


@contextlib.contextmanager
def refusing(check: Guarded | None) -> Iterator[None]:
    """Around running a statement: when it carried a guarded insert that wrote nothing, its
    failure is raised as the guard's `refused()`; any other failure as it is."""
    try:
        yield
    except DBAPIError as exc:
        orig = getattr(exc, "orig", None)
        sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if check is None or sqlstate != GUARD_REFUSED:
            raise
        raise check.refused() from None


def statements(
    held: Held, guarded: Guarded | None, dialect: Dialect, notify: str | None
) -> Iterator[Statement]:
    """The held rows (and the guarded insert) as PostgreSQL statements and their parameters,
    then the notification: one combined statement for a command's few rows, one per table for
    more."""
    count = sum(len(rows) for rows in held.values())
    if (held or guarded) and count <= COMBINED_ROWS:
        yield (*grouped([(held, guarded)], dialect, notify), guarded)
        return
    for (table, _), rows in held.items():
        yield insert_of(table), list(rows), None
    if guarded is not None:
        yield (*grouped([({}, guarded)], dialect, None), guarded)
    if notify is not None:
        yield NOTIFY, {"notify_channel": notify}, None


Member = tuple[Held, Guarded | None]
"""One command's held rows and guarded insert (`grouped`)."""

GROUPED_ROWS = 400
"""Rows one grouped statement carries at most (each row about a dozen parameters; PostgreSQL
takes 32,767 in a statement)."""


def _renamed(conflict: str, names: Sequence[str], k: int) -> str:
    """The conflict clause of the `k`-th guarded insert of a statement: its parameters `g_…`
    named `g{k}_…`, apart from the other guarded inserts'."""
    for name in names:
        conflict = re.sub(rf":{re.escape(name)}\b", f":g{k}_{name[2:]}", conflict)
    return conflict


def grouped(
    members: Sequence[Member], dialect: Dialect, notify: str | None
) -> tuple[TextClause, dict[str, Any]]:
    """The held rows and guarded inserts of one command or several (`group_commit`) as one
    `combined` statement and its parameters (one `pg_notify` for all), each table's rows in the
    members' order. All or nothing, as a statement is: a guarded insert that wrote nothing, or
    a constraint any row breaks, fails it whole."""
    merged: Held = {}
    guards: list[GuardShape] = []
    params: dict[str, Any] = {} if notify is None else {"notify_channel": notify}
    for held, guarded in members:
        for part, rows in held.items():
            merged.setdefault(part, []).extend(rows)
        if guarded is not None:
            if any(not name.startswith("g_") for name in guarded.params):
                raise ValueError("a guarded insert's parameters are named g_…")
            k = len(guards)
            keys = columns_of(guarded.table, frozenset(guarded.row))
            names = sorted(guarded.params, key=len, reverse=True)  # g_nowx before g_now
            guards.append((guarded.table, keys, _renamed(guarded.conflict, names, k)))
            params |= {f"g{k}_{name[2:]}": value for name, value in guarded.params.items()}
            params |= {f"g{k}_{j}": guarded.row[c] for j, c in enumerate(keys)}
    for i, ((_, keys), rows) in enumerate(merged.items()):
        for r, row in enumerate(rows):
            for j, key in enumerate(keys):
                params[f"h{i}_{r}_{j}"] = row[key]
    shape = tuple((table, keys, len(rows)) for (table, keys), rows in merged.items())
    return combined(shape, dialect, notify is not None, tuple(guards)), params


def rows_of(members: Sequence[Member]) -> int:
    """Rows the members' statement would carry (`GROUPED_ROWS` at most in one)."""
    return sum(len(rows) for held, _ in members for rows in held.values())
