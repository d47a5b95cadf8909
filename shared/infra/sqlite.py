"""SQLite for the embedded default: one connection per file, called on the event loop's thread.

aiosqlite runs every call (cursor, execute, fetch, close, begin, commit) on a thread of its own
and hands the result back through the event loop: about 20 thread hand-offs for a transaction
of two inserts, each costing more CPU than SQLite's own work on a local file (measured on the
command path: docs/performance.md, "Commands"). Here the same aiosqlite API runs each call
directly instead, so SQLAlchemy's aiosqlite dialect works unchanged, and the hand-offs go.

What makes calling SQLite on the loop's thread safe:
- each engine keeps exactly one connection (`make_engine`): the process's transactions on a
  file queue for it in order (an asyncio queue, FIFO) instead of polling SQLite's lock. As every
  transaction begins with `BEGIN IMMEDIATE`, SQLite allowed one transaction per file at a time
  already; now the wait costs nothing and is fair;
- SQLite's own busy handler is off (`busy_timeout=0`): when another *process* holds the file's
  write lock (a rebuild run beside the service), the statement fails at once with SQLITE_BUSY,
  having done nothing, and is tried again after an asynchronous sleep, for up to
  `BUSY_WAIT` seconds, while the loop serves other requests;
- in WAL mode with `synchronous=NORMAL` a commit writes to the WAL without flushing it, so a
  call lasts microseconds; only a checkpoint flushes to disk, and checkpoints do not run on
  the loop's thread (`_Checkpointer`).
"""

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")

log = logging.getLogger(__name__)

BUSY_WAIT = 30.0
"""Seconds a statement waits for another process's write lock (as `busy_timeout` did)."""

SQLITE_BUSY = 5

CHECKPOINT_EVERY = 0.25
"""Seconds between two checkpoints of a file's write-ahead log (`_Checkpointer`)."""

WAL_PAGES_AT_MOST = 8000
"""Pages of log (4 KiB each) past which a commit checkpoints what the thread had not yet, and
the log starts over (`_Checkpointer`); SQLite's own default is 1,000."""

WAL_BYTES_KEPT = 4 * 1024 * 1024
"""What the log's file is cut back to when it starts over (it keeps its largest size else)."""


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


def _busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and code & 0xFF == (SQLITE_BUSY)
    )


class _Checkpointer(threading.Thread):
    """Checkpoints a file's write-ahead log from a thread of its own, with a connection of its
    own.

    SQLite's automatic checkpoint runs inside the commit that crosses 1,000 pages of WAL: it
    copies them into the database and flushes both files while the event loop stands still
    (over 3,000 secondments a commit's p99 was 3.7–4.4 ms, against 0.37 since;
    docs/performance.md, "5 December 2026 (evening)"). Here this thread runs a
    `PASSIVE` checkpoint every `CHECKPOINT_EVERY` seconds: it never waits for a lock and never
    blocks a writer or a reader, and the sqlite3 module lets go of the GIL while SQLite works,
    so the copying and flushing take the other core.

    A checkpoint that runs beside a busy writer never catches up with it, and SQLite starts the
    log over only when one did: under a steady load the log would grow without end (96 MB
    in 1.5 s of small transactions, `tests/unit/shared/test_sqlite_loop.py`). So the loop's
    connection keeps the automatic checkpoint, at `WAL_PAGES_AT_MOST` pages instead of
    1,000: it copies only what this
    thread had not, and the log starts over. What a commit guarantees does not change: with
    `synchronous=NORMAL` a commit in the WAL survives a crash of the process either way."""

    def __init__(self, db: sqlite3.Connection, database: str) -> None:
        super().__init__(name="sqlite-checkpoint", daemon=True)
        self._db = db
        self._database = database
        self._stopping = threading.Event()

    @classmethod
    def opened(cls, database: str) -> "_Checkpointer | None":
        """The checkpointer of an existing file (never creating one), None when the file
        cannot be opened: the automatic checkpoint then does it all, as it used to."""
        try:
            db = sqlite3.connect(
                f"{Path(database).resolve().as_uri()}?mode=rw",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error:
            log.warning("sqlite: no checkpoint thread for %s", database, exc_info=True)
            return None
        return cls(db, database)

    def run(self) -> None:
        failing = False
        try:
            while not self._stopping.wait(CHECKPOINT_EVERY):
                try:
                    self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    failing = False
                except sqlite3.Error:
                    if not failing:  # once a spell: the automatic checkpoint still runs
                        log.warning(
                            "sqlite: checkpoint of %s failed", self._database, exc_info=True
                        )
                    failing = True
        finally:
            self._db.close()

    def stop(self) -> None:
        """Ask the thread to end (it closes its connection as it does)."""
        self._stopping.set()


class LoopConnection(aiosqlite.Connection):
    """An aiosqlite connection without its thread: calls run on the caller's (loop's) thread,
    all but the checkpoints of a file's write-ahead log (`_Checkpointer`)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], database: str) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]
        self._database = database
        self._checkpointer: _Checkpointer | None = None

    def __await__(self) -> Any:
        return self._connect_checkpointed().__await__()  # no worker thread to start

    async def _connect_checkpointed(self) -> "LoopConnection":
        await self._connect()
        if _is_file(self._database) and self._checkpointer is None and self._connection:
            self._checkpointer = _Checkpointer.opened(self._database)
            if self._checkpointer is not None:
                self._connection.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES_AT_MOST}")
                self._connection.execute(f"PRAGMA journal_size_limit={WAL_BYTES_KEPT}")
                self._checkpointer.start()
        return self

    def stop(self) -> "asyncio.Future[Any] | None":
        """Close (aiosqlite's way, also when a connection is collected without `close`): the
        checkpoints end with it."""
        self._stop_checkpoints()
        return super().stop()

    async def close(self) -> None:
        """Close, with the checkpoints; once it returns, the file's log is settled (the last
        connection to close a file checkpoints what its log still holds)."""
        checkpointer = self._stop_checkpoints()
        await super().close()
        if checkpointer is not None:  # cancelled here, the thread still closes its connection
            await asyncio.to_thread(checkpointer.join, BUSY_WAIT)

    def _stop_checkpoints(self) -> "_Checkpointer | None":
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        return checkpointer

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        deadline: float | None = None
        delay = 0.001
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + BUSY_WAIT
                if now + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)

    def executemany_now(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        """Run one statement for each parameter tuple, now, inside the transaction under way
        (`shared.infra.fast_insert`): it holds the write lock already (`BEGIN IMMEDIATE`),
        so SQLite cannot answer busy."""
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        self._connection.executemany(sql, params)

    async def read_now(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """A read outside any transaction, without SQLAlchemy around it: for a store's one
        short look-up on the command path (a reader never waits in WAL mode; should SQLite
        still answer busy, it is asked again as `_execute` does)."""
        db = self._checked()
        if db.in_transaction:  # it would read inside a transaction somebody else began
            raise RuntimeError("read_now on a connection with a transaction under way")
        rows: list[Any] = await self._execute(_fetch_all, db, sql, params)
        return rows

    async def transaction_now(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one transaction of its own, without SQLAlchemy around it: begun
        `IMMEDIATE` (while another process holds the write lock, waited for asynchronously,
        as any statement), committed before returning, rolled back if `work` raises.

        For the caller that holds the engine's connection (`engine.connect()`) and has not
        begun a transaction on it. SQLAlchemy's session costs about 0.25 ms per transaction
        and 0.075 ms per statement here, more than SQLite's own work on a short transaction
        (docs/performance.md, "Commands")."""
        db = self._checked()
        await self._execute(db.execute, "BEGIN IMMEDIATE")
        return _committed(db, work)

    def _checked(self) -> sqlite3.Connection:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return self._connection


async def driver_of(conn: AsyncConnection) -> LoopConnection:
    """The SQLite driver connection under an engine's connection (`make_engine`'s)."""
    driver = (await conn.get_raw_connection()).driver_connection
    if not isinstance(driver, LoopConnection):
        raise TypeError(f"not an embedded SQLite connection: {type(driver).__name__}")
    return driver


def _committed(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """`work` in the transaction begun on `db`, then committed; rolled back if it raises."""
    try:
        result = work(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result


def _fetch_all(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    cursor = db.execute(sql, params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _is_file(database: str) -> bool:
    return database not in ("", ":memory:") and not database.startswith("file::memory:")


def connect(database: str, **kwargs: Any) -> LoopConnection:
    """Like `aiosqlite.connect`, for SQLAlchemy's `async_creator`."""
    return LoopConnection(partial(sqlite3.connect, database, **kwargs), database)
