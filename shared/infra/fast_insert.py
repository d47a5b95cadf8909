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

The statements themselves are built in `shared.infra.held_sql`.
"""

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import ORMExecuteState

from shared.infra.group_commit import group_commit
from shared.infra.held_sql import (
    Guarded,
    Held,
    columns_of,
    insert_of,
    refusing,
    statements,
)
from shared.infra.sqlite import LoopConnection

Processor = Callable[[Any], Any] | None

HELD_ROWS_WAIT = "held_rows_wait"
"""Execution option of a statement that reads none of the held rows: they need not go first."""

Violation = Callable[[Sequence[Mapping[str, Any]]], Exception]
"""What a constraint violation on a table means, given the table's rows that were written."""


@functools.cache
def _plan(table: Table, keys: tuple[str, ...], dialect: Dialect) -> tuple[str, list[Processor]]:
    """The INSERT of `keys` into `table`, and each value's bind processor (None: as is)."""
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(k) for k in keys)
    marks = ", ".join("?" for _ in keys)
    sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})"
    return sql, [table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys]


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
        columns_of(guarded.table, frozenset(guarded.row))  # a key that is no column: now
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
        keys = columns_of(table, frozenset(rows[0]))
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
                for statement, params, check in statements(held, guarded, dialect, notify):
                    with refusing(check):
                        await self._session.execute(statement, params)
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
        planned = list(statements(self._held, self._guarded, engine.dialect, notify))
        if len(planned) != 1:
            return False
        [(statement, params, check)] = planned
        held, self._held = self._held, {}
        guarded, self._guarded = self._guarded, None
        with self._writing(held), refusing(check):
            # With other commands' rows when they meet (`group_commit`): one statement.
            await group_commit(engine).write(statement, params, held, guarded, notify)
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
                for statement, params, check in statements(held, guarded, dialect, None):
                    with refusing(check):
                        state.session.execute(statement, params)
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
