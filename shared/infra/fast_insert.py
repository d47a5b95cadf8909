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

A transaction shared by several commands (`shared.infra.uow.SharedTransaction`) holds its
inserts back (`deferred`): each table's rows go in one statement when any other statement of
the transaction is about to run (so every read sees them) and before it commits, instead of
one statement per command and table. A constraint violation then fails that later statement
or the commit: the shared transaction is rolled back whole, and its commands run one by one.
"""

import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Table, event, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState

from shared.infra.sqlite import LoopConnection

Processor = Callable[[Any], Any] | None


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


class Inserts:
    """The inserts of one session's transactions; the driver connection is looked up once per
    transaction (each look-up is two hops through SQLAlchemy's greenlet bridge)."""

    def __init__(self, session: AsyncSession, *, deferred: bool = False) -> None:
        self._session = session
        self._for: object | None = None
        self._driver: LoopConnection | None = None
        self._dialect: Dialect | None = None
        self._deferred = deferred
        self._held: dict[tuple[Table, tuple[str, ...]], list[Mapping[str, Any]]] = {}
        """Rows held back, by table and columns, in the order they were first given."""
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

    async def rows(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows` (all with the same keys) in the transaction; a constraint violation
        raises SQLAlchemy's IntegrityError, as `session.execute` would."""
        if not rows:
            return
        if self._deferred:
            self._held.setdefault((table, tuple(rows[0])), []).extend(rows)
            self.writes += len(rows)
            return
        await self._now(table, rows)

    async def flush(self) -> None:
        """Write the rows held back (a deferred transaction's, before it commits)."""
        held, self._held = self._held, {}
        try:
            for (table, _), rows in held.items():
                await self._now(table, rows)
        except BaseException:
            self.failed = True
            raise

    def _before_statement(self, state: ORMExecuteState) -> None:
        """Any other statement of the transaction runs after the rows held back."""
        if self._flushing:
            return  # one of the held inserts, being written
        if not state.is_select:
            self.writes += 1
        held, self._held = self._held, {}
        self._flushing = True
        try:
            for (table, _), rows in held.items():
                state.session.execute(insert_of(table), list(rows))
        except BaseException:
            self.failed = True  # the rows are gone from here: the transaction must not commit
            raise
        finally:
            self._flushing = False

    async def _now(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        driver = await self._driver_now()
        if driver is None:
            await self._session.execute(insert_of(table), list(rows))
            return
        assert self._dialect is not None
        keys = tuple(rows[0])
        sql, processors = _plan(table, keys, self._dialect)
        params = [
            tuple(p(row[k]) if p else row[k] for k, p in zip(keys, processors, strict=True))
            for row in rows
        ]
        try:
            driver.executemany_now(sql, params)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(sql, params, exc, hide_parameters=True) from exc
