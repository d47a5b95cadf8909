"""Async SQLAlchemy engines for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

import contextlib
import socket
import traceback
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only


def is_sqlite(url: str) -> bool:
    """True for the embedded default's SQLite files."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """An engine tuned per dialect.

    SQLite gets WAL (readers do not block the writer) and `BEGIN IMMEDIATE` (a writer takes
    the lock up front, so two writers wait for each other instead of failing half-way).
    """
    if not is_sqlite(url):
        return create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    database = make_url(url).database
    if database and database != ":memory:":
        # A fresh clone has no `var/`: the embedded default's files are created on first use.
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
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


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (we return them to callers)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or dropped the connection (a restart, a failover): what
    was being done did not happen or is safe to do again shortly; waiting is the cure."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | ConnectionError
        | TimeoutError
        | socket.gaierror,
    )
