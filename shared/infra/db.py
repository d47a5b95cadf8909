"""Async SQLAlchemy engines for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

import socket
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.infra import sqlite

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


def make_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """An engine tuned per dialect.

    SQLite gets WAL (readers do not block the writer), `BEGIN IMMEDIATE` (a writer takes
    the lock up front, so two writers wait for each other instead of failing half-way), and one
    connection called on the event loop's thread (`shared.infra.sqlite`): transactions on the
    file queue for it, in order.
    """
    if not is_sqlite(url):
        return create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    database = make_url(url).database
    in_memory = database in (None, "", ":memory:")
    if database and not in_memory:
        # A fresh clone has no `var/`: the embedded default's files are created on first use.
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    one_connection: dict[str, Any] = (
        {} if in_memory else {"pool_size": 1, "max_overflow": 0, "pool_timeout": sqlite.BUSY_WAIT}
    )  # (an in-memory database has one connection already: SQLAlchemy's StaticPool)
    engine = create_async_engine(
        url,
        async_creator=partial(sqlite.connect, database or ":memory:", check_same_thread=False),
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
