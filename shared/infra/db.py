"""Async SQLAlchemy engines for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

import contextlib
import socket
import time
import traceback
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from asyncpg.exceptions import InternalClientError
from sqlalchemy import Table, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from shared.infra import sqlite
from shared.infra.fair_pool import FairAsyncQueuePool

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=0",
)
"""Every SQLite connection's settings (the command benchmark's baseline uses them too).

WAL: readers never block the writer. `synchronous=NORMAL`, a deliberate choice: in WAL mode a
commit is not flushed to disk until the next checkpoint, so a crash of the *process* loses
nothing, and a power loss or OS crash may lose the last transactions committed before it (never
corrupts the file); `FULL` would flush the WAL at every commit (about 1.8 ms on the development
machine, docs/performance.md). `busy_timeout=0`: lock waits are asynchronous
(`shared.infra.sqlite`)."""


def is_sqlite(url: str) -> bool:
    """True for the embedded default's SQLite files."""
    return make_url(url).get_backend_name() == "sqlite"


def insert_on_conflict(dialect: str, table: Table) -> postgresql.Insert | sqlite_dialect.Insert:
    """The INSERT of `dialect` that takes an `ON CONFLICT` clause (PostgreSQL's or SQLite's)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite_dialect.insert(table)


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine tuned per dialect, that never writes a statement's parameters into its
    errors or logs (they hold personal data). PostgreSQL's own message can still name the
    row (`DETAIL`): logs and dead letters tell such errors through `redact.describe`.

    PostgreSQL: up to `pool_size` connections, opened as load asks for them and then kept
    (no overflow). An overflow connection is closed at check-in whenever the pool holds
    enough idle ones, so under a steady load the pool kept opening new ones: each a TCP
    connection, a TLS handshake, an authentication and a server process forked: 364 in one
    run of 6,000 placement commands at 16 clients (docs/performance.md, "5 December 2026
    (afternoon)").

    SQLite gets WAL (readers do not block the writer), `BEGIN IMMEDIATE` (a writer takes
    the lock up front, so two writers wait for each other instead of failing half-way), and one
    connection called on the event loop's thread (`shared.infra.sqlite`): transactions on the
    file queue for it, in order.
    """
    if not is_sqlite(url):
        return _checked_when_idle(
            create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=0,
                poolclass=FairAsyncQueuePool,
                hide_parameters=True,
            )
        )
    database = make_url(url).database
    in_memory = database in (None, "", ":memory:")
    if database and not in_memory:
        # A fresh clone has no `var/`: the embedded default's files are created on first use.
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    one_connection: dict[str, Any] = (
        {}
        if in_memory
        else {
            "pool_size": 1,
            "max_overflow": 0,
            "pool_timeout": sqlite.BUSY_WAIT,
            "poolclass": FairAsyncQueuePool,  # in the order they asked (`fair_pool`)
        }
    )  # (an in-memory database has one connection already: SQLAlchemy's StaticPool)
    engine = create_async_engine(
        url,
        async_creator=partial(sqlite.connect, database or ":memory:", check_same_thread=False),
        hide_parameters=True,
        **one_connection,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "handle_error")
    def _close_the_failed_cursor(context: ExceptionContext) -> None:
        """A statement that fails (a duplicate key, a busy timeout) leaves aiosqlite's cursor
        open, held by the error's traceback in a reference cycle. When the garbage collector
        frees it, on the event loop's thread and holding the GIL, the cursor resets its
        statement, which takes its connection's mutex; if that connection's thread is then
        waiting for the database lock (busy timeout), a lock the frozen loop can never
        release, every request stalls for 30 s and fails. So close it now, while its
        connection is idle: a closed cursor frees nothing of SQLite's when collected."""
        for frame, _ in traceback.walk_tb(context.original_exception.__traceback__):
            for value in list(frame.f_locals.values()):
                if isinstance(value, aiosqlite.Cursor):
                    with contextlib.suppress(Exception):  # the error in hand is the one to raise
                        await_only(value.close())

    return engine


PING_AFTER_IDLE = 1.0
"""Seconds a pooled PostgreSQL connection may rest before it is checked on its way out."""


def _checked_when_idle(engine: AsyncEngine) -> AsyncEngine:
    """Ping a pooled connection before use only when it rested more than `PING_AFTER_IDLE`.

    SQLAlchemy's `pool_pre_ping` pings at every checkout: three round trips (begin, `;`,
    rollback) before every transaction, a quarter of a command's CPU in the needs service
    (docs/performance.md, "Commands"). What the ping is for is a connection that went stale
    while it rested (the server restarted, failed over, or dropped it): a connection used a
    moment ago is alive, or every use of it would fail alike. A connection that fails its ping
    is replaced (SQLAlchemy retries the checkout); one that fails in use invalidates the pool,
    as before.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _rests(_dbapi_connection: Any, record: Any) -> None:
        record.info["resting_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _wakes(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("resting_since")
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa_exc.DisconnectionError("a resting connection went stale") from exc

    @event.listens_for(engine.sync_engine, "handle_error")
    def _left_mid_operation(context: ExceptionContext) -> None:
        """asyncpg's "cannot switch to state N; another operation is in progress": the
        connection's protocol was left mid-operation (a query cut short as the server shut
        down). SQLAlchemy does not count it a disconnect, so the connection went back to the
        pool and failed the next transactions as well, each a 500 (seen in the fault suite's
        PostgreSQL restarts). As a disconnect it is thrown away with the pool's other
        connections, and `unavailable` answers 503 with Retry-After."""
        if isinstance(context.original_exception, InternalClientError):
            context.is_disconnect = True  # type: ignore[misc]  # documented as settable here

    return engine


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (we return them to callers)."""
    return async_sessionmaker(engine, expire_on_commit=False)


RESTARTING = frozenset({"57P01", "57P02", "57P03"})
"""SQLSTATEs of a server shutting down, crashed, or not yet accepting connections."""


def unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or dropped the connection (a restart, a failover): what
    was being done did not happen or is safe to do again shortly; waiting is the cure."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    # The server's own word, raised by the driver as it connects (not always wrapped by
    # SQLAlchemy): a connection failure (class 08) or the server shutting down, crashed or
    # not yet accepting connections during a restart or recovery (57P01-57P03).
    state = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    if isinstance(state, str) and (state.startswith("08") or state in RESTARTING):
        return True
    return isinstance(
        exc,
        InternalClientError  # a connection left mid-operation (`_left_mid_operation`)
        | sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | ConnectionError
        | TimeoutError
        | socket.gaierror,
    )
