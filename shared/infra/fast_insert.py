"""The command path's inserts on SQLite, run with the driver on the transaction's connection.

On the embedded default a command's transaction runs four to six inserts (its events, their
outbox rows, a list row, the audit entry), each through `session.execute(insert(table), rows)`:
about 50 µs of CPU apiece above SQLite's own work, a tenth of the command (docs/performance.md,
"Commands"). Here each table's INSERT for a set of columns is built once, its values are
converted by SQLAlchemy's own bind processors (so they are stored exactly as SQLAlchemy stores
them and read back alike), and sqlite3 runs it on the connection SQLAlchemy began the
transaction on (`BEGIN IMMEDIATE`, `shared.infra.db`): same transaction, same commit.

PostgreSQL keeps SQLAlchemy: asyncpg begins its transaction lazily, at SQLAlchemy's first
statement, so a statement sent past it could run outside the transaction.

On PostgreSQL every command's transaction holds its inserts back (`deferred`), and so does a
transaction shared by several commands (`shared.infra.uow.SharedTransaction`, either store): the
rows go when any other statement of the transaction is about to run (so every read sees them)
and before it commits. On PostgreSQL they go in **one statement** for all tables (each table's
INSERT a data-modifying `WITH` part), the commit's `pg_notify` in it too: a statement costs
about 0.3 ms of CPU whatever it carries (SQLAlchemy, asyncpg, TLS, the socket; docs/performance.md),
and `POST /api/needs` ran eight. A constraint violation then fails that later statement or the
commit, translated by the table's `on_violation` (the event store's into ConcurrencyConflict,
as at once); a shared transaction is rolled back whole, and its commands run one by one.
A statement may let the held rows wait (`HELD_ROWS_WAIT` in its execution options) when it
reads none of them.

One insert of a transaction may be *guarded* (`Inserts.guard`): an insert that a conflict may
leave undone (`ON CONFLICT … DO UPDATE … WHERE`), such as the remembered answer under an
`Idempotency-Key`, whose caller must learn when it wrote nothing. It goes with the held rows,
a `WITH` part of the same statement that says how many rows it wrote, and its `refused()`
error is raised when none: one round trip fewer for every HTTP command with a key.
"""

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Table, TextClause, bindparam, event, insert, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import ORMExecuteState

from shared.infra.sqlite import LoopConnection

Processor = Callable[[Any], Any] | None

HELD_ROWS_WAIT = "held_rows_wait"
"""Execution option of a statement that reads none of the held rows: they need not go first."""

COMBINED_ROWS = 16
"""Rows one combined statement carries at most: a command's few. More (a large shared run) go
one statement per table, so that the caches of statements (ours, SQLAlchemy's compiled ones,
asyncpg's prepared ones per connection) only ever keep small shapes."""

_NOTIFY = text("SELECT pg_notify(:notify_channel, '')")

Held = dict[tuple[Table, tuple[str, ...]], list[Mapping[str, Any]]]
"""Rows held back, by table and columns, in the order they were first given."""

Violation = Callable[[Sequence[Mapping[str, Any]]], Exception]
"""What a constraint violation on a table means, given the table's rows that were written."""


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


_GuardShape = tuple[Table, tuple[str, ...], str] | None


@functools.cache
def insert_of(table: Table) -> Insert:
    """Built once per table (SQLAlchemy then reuses its compiled form)."""
    return insert(table)


@functools.cache
def _plan(table: Table, keys: tuple[str, ...], dialect: Dialect) -> tuple[str, list[Processor]]:
    """The INSERT of `keys` into `table`, and each value's bind processor (None: as is)."""
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(k) for k in keys)
    marks = ", ".join("?" for _ in keys)
    sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})"
    return sql, [table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys]


@functools.lru_cache(maxsize=512)
def _combined(
    shape: tuple[tuple[Table, tuple[str, ...], int], ...],
    dialect: Dialect,
    notify: bool,
    guard: _GuardShape = None,
) -> TextClause:
    """One PostgreSQL statement inserting `count` rows of `keys` into each table (a
    data-modifying WITH part each, all run to completion), the guarded insert saying how many
    rows it wrote, and `pg_notify` when asked; built once per shape (SQLAlchemy and asyncpg
    then reuse its compiled and prepared forms)."""
    quote = dialect.identifier_preparer.quote
    parts: list[str] = []
    binds = []
    if guard is not None:
        table, keys, conflict = guard
        columns = ", ".join(quote(k) for k in keys)
        values = ", ".join(f":g_{j}" for j in range(len(keys)))
        parts.append(
            f"g AS (INSERT INTO {quote(table.name)} ({columns}) VALUES ({values}) "
            f"{conflict} RETURNING 1)"
        )
        binds += [bindparam(f"g_{j}", type_=table.c[k].type) for j, k in enumerate(keys)]
    for i, (table, keys, count) in enumerate(shape):
        columns = ", ".join(quote(k) for k in keys)
        values = ", ".join(
            "(" + ", ".join(f":h{i}_{r}_{j}" for j in range(len(keys))) + ")" for r in range(count)
        )
        parts.append(f"h{i} AS (INSERT INTO {quote(table.name)} ({columns}) VALUES {values})")
        binds += [
            bindparam(f"h{i}_{r}_{j}", type_=table.c[k].type)
            for r in range(count)
            for j, k in enumerate(keys)
        ]
    if notify:
        binds.append(bindparam("notify_channel"))
    # A guarded insert that wrote nothing fails the whole statement (division by zero, at run
    # time: the count is a subquery): nothing of it stays, in a transaction or without one.
    selected = ["1 / (SELECT count(*) FROM g)" if guard is not None else "1"]
    if notify:
        selected.append("pg_notify(:notify_channel, '')")
    return text(f"WITH {', '.join(parts)} SELECT {', '.join(selected)}").bindparams(*binds)


@functools.cache
def _columns(table: Table, keys: frozenset[str]) -> tuple[str, ...]:
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


def _refusal(exc: DBAPIError, check: Guarded | None) -> Exception | None:
    """What a failed statement means when it carried a guarded insert that wrote nothing."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return check.refused() if check is not None and sqlstate == GUARD_REFUSED else None


def _guard_params(guarded: Guarded, keys: tuple[str, ...]) -> dict[str, Any]:
    return {**guarded.params, **{f"g_{j}": guarded.row[k] for j, k in enumerate(keys)}}


def _statements(
    held: Held, guarded: Guarded | None, dialect: Dialect, notify: str | None
) -> Iterator[Statement]:
    """The held rows (and the guarded insert) as PostgreSQL statements and their parameters,
    then the notification: one combined statement for a command's few rows, one per table for
    more."""
    guard: _GuardShape = None
    if guarded is not None:
        guard_keys = _columns(guarded.table, frozenset(guarded.row))
        guard = (guarded.table, guard_keys, guarded.conflict)
    count = sum(len(rows) for rows in held.values())
    if not (held or guarded) or count > COMBINED_ROWS:
        for (table, _), rows in held.items():
            yield insert_of(table), list(rows), None
        if guarded is not None and guard is not None:
            alone = _combined((), dialect, False, guard)
            yield alone, _guard_params(guarded, guard[1]), guarded
        if notify is not None:
            yield _NOTIFY, {"notify_channel": notify}, None
        return
    shape = tuple((table, keys, len(rows)) for (table, keys), rows in held.items())
    params: dict[str, Any] = {} if notify is None else {"notify_channel": notify}
    if guarded is not None and guard is not None:
        params |= _guard_params(guarded, guard[1])
    for i, ((_, keys), rows) in enumerate(held.items()):
        for r, row in enumerate(rows):
            for j, key in enumerate(keys):
                params[f"h{i}_{r}_{j}"] = row[key]
    yield _combined(shape, dialect, notify is not None, guard), params, guarded


def _violated(exc: IntegrityError, held: Held, meanings: Mapping[Table, Violation]) -> None:
    """Raise what a violation of one of `meanings`' tables' constraints means, if it is one."""
    names: set[str] = set()
    sqlite_says = ""
    current: BaseException | None = exc
    while current is not None:
        orig = getattr(current, "orig", None) or current
        name = getattr(orig, "constraint_name", None)  # asyncpg's
        if name:
            names.add(name)
        if isinstance(orig, sqlite3.IntegrityError):  # "UNIQUE constraint failed: t.a, t.b"
            sqlite_says = str(orig)
        current = current.__cause__ or current.__context__
    for (table, _), rows in held.items():
        meaning = meanings.get(table)
        if meaning is None:
            continue
        if names & {c.name for c in table.constraints if c.name} or (
            f"failed: {table.name}." in sqlite_says
        ):
            raise meaning(rows) from exc


class Inserts:
    """The inserts of one session's transactions; the driver connection is looked up once per
    transaction (each look-up is two hops through SQLAlchemy's greenlet bridge)."""

    def __init__(self, session: AsyncSession, *, deferred: bool = False) -> None:
        self._session = session
        self._for: object | None = None
        self._driver: LoopConnection | None = None
        self._dialect: Dialect | None = None
        self._deferred = deferred
        self._held: Held = {}
        self._guarded: Guarded | None = None
        self._meanings: dict[Table, Violation] = {}
        self._flushing = False
        self.failed = False
        """Writing held rows failed once: even if the error was caught, some are lost."""
        self.writes = 0
        """Rows held back and statements other than a SELECT run in the transaction so far
        (deferred only): a command that moved it wrote something."""
        if deferred:
            event.listen(session.sync_session, "do_orm_execute", self._before_statement)

    async def _driver_now(self) -> LoopConnection | None:
        """The sqlite3 connection of the transaction under way, None on PostgreSQL."""
        if self._for is None or self._session.sync_session.get_transaction() is not self._for:
            conn = await self._session.connection()  # begins it (SQLite: BEGIN IMMEDIATE)
            driver = (await conn.get_raw_connection()).driver_connection
            sqlite = conn.dialect.name == "sqlite" and isinstance(driver, LoopConnection)
            self._driver = driver if sqlite else None
            self._dialect = conn.dialect
            self._for = self._session.sync_session.get_transaction()
        return self._driver

    def on_violation(self, table: Table, meaning: Violation) -> None:
        """What a constraint violation on `table` means when its rows went later (held)."""
        self._meanings[table] = meaning

    def can_guard(self) -> bool:
        """A guarded insert may be held (`guard`): rows are held on PostgreSQL, and none is
        guarded yet."""
        return (
            self._deferred
            and self._guarded is None
            and self._session.bind.dialect.name == "postgresql"
        )

    def guard(self, guarded: Guarded) -> None:
        """Hold `guarded` with the rows: it goes with them, and `guarded.refused()` is raised
        then if it wrote no row (the caller's transaction is then to be rolled back)."""
        if not self.can_guard():
            raise RuntimeError("this transaction cannot hold a guarded insert")
        if self._session.sync_session.in_nested_transaction():
            self.failed = True
            raise RuntimeError("rows were held back inside a savepoint")
        _columns(guarded.table, frozenset(guarded.row))  # a key that is no column: now
        self._guarded = guarded
        self.writes += 1

    def holds(self, table: Table) -> bool:
        """Rows of `table` are held back (a statement on it must not let them wait)."""
        return any(held is table for held, _ in self._held)

    async def rows(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows` (all with the same keys) in the transaction; a constraint violation
        raises SQLAlchemy's IntegrityError, as `session.execute` would."""
        if not rows:
            return
        keys = _columns(table, frozenset(rows[0]))
        if self._deferred:
            if self._session.sync_session.in_nested_transaction():
                # Held inside a savepoint, they would outlive its rollback.
                self.failed = True
                raise RuntimeError("rows were held back inside a savepoint")
            self._held.setdefault((table, keys), []).extend(rows)
            self.writes += len(rows)
            return
        await self._now(table, keys, rows)

    async def flush(self, *, notify: str | None = None) -> None:
        """Write the rows held back (a deferred transaction's, before it commits); on
        PostgreSQL in one statement, with `pg_notify(notify)` when given (SQLite has none)."""
        held, self._held = self._held, {}
        guarded, self._guarded = self._guarded, None
        dialect = self._session.bind.dialect
        with self._writing(held):
            if dialect.name == "postgresql":
                for statement, params, check in _statements(held, guarded, dialect, notify):
                    try:
                        await self._session.execute(statement, params)
                    except DBAPIError as exc:
                        refused = _refusal(exc, check)
                        if refused is None:
                            raise
                        raise refused from None
            else:
                for (table, keys), rows in held.items():
                    await self._now(table, keys, rows)

    async def flush_alone(self, engine: AsyncEngine, *, notify: str | None = None) -> bool:
        """Write the held rows as one statement of its own (autocommit), when they go in one
        and the transaction ran nothing yet: a statement is atomic, and the transaction's
        BEGIN and COMMIT (two round trips of three, for `POST /api/needs`) are saved. False,
        writing nothing, when that cannot be (then `flush` and commit as usual)."""
        if not self._deferred or engine.dialect.name != "postgresql":
            return False
        statements = list(_statements(self._held, self._guarded, engine.dialect, notify))
        if len(statements) != 1:
            return False
        [(statement, params, check)] = statements
        held, self._held = self._held, {}
        self._guarded = None
        with self._writing(held):
            async with engine.connect() as conn:
                alone = await conn.execution_options(isolation_level="AUTOCOMMIT")
                try:
                    await alone.execute(statement, params)
                except DBAPIError as exc:
                    refused = _refusal(exc, check)
                    if refused is None:
                        raise
                    raise refused from None
        return True

    def _before_statement(self, state: ORMExecuteState) -> None:
        """Any other statement of the transaction runs after the rows held back."""
        if self._flushing:
            return  # one of the held inserts, being written
        if not state.is_select:
            self.writes += 1
        if not (self._held or self._guarded) or state.execution_options.get(HELD_ROWS_WAIT):
            return
        if state.session.in_nested_transaction():
            # A savepoint rolled back would take them: they must have gone before it began.
            self.failed = True
            raise RuntimeError("rows were held back when a savepoint began")
        held, self._held = self._held, {}
        guarded, self._guarded = self._guarded, None
        dialect = state.session.get_bind().dialect
        with self._writing(held):
            if dialect.name == "postgresql":
                for statement, params, check in _statements(held, guarded, dialect, None):
                    try:
                        state.session.execute(statement, params)
                    except DBAPIError as exc:
                        refused = _refusal(exc, check)
                        if refused is None:
                            raise
                        raise refused from None
            else:
                for (table, _), rows in held.items():
                    state.session.execute(insert_of(table), list(rows))

    @contextlib.contextmanager
    def _writing(self, held: Held) -> Iterator[None]:
        """Around writing `held`: the statements are ours (the hook lets them pass); a failure
        leaves the transaction unable to commit (the rows are gone from here, even if someone
        catches the error), a constraint violation is said as its table means it."""
        self._flushing = True
        try:
            yield
        except IntegrityError as exc:
            self.failed = True
            _violated(exc, held, self._meanings)
            raise
        except BaseException:
            self.failed = True
            raise
        finally:
            self._flushing = False

    async def _now(
        self, table: Table, keys: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
    ) -> None:
        driver = await self._driver_now()
        if driver is None:
            await self._session.execute(insert_of(table), list(rows))
            return
        assert self._dialect is not None
        sql, processors = _plan(table, keys, self._dialect)
        params = [
            tuple(p(row[k]) if p else row[k] for k, p in zip(keys, processors, strict=True))
            for row in rows
        ]
        try:
            driver.executemany_now(sql, params)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(sql, params, exc, hide_parameters=True) from exc
