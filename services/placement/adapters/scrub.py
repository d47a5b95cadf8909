"""Scrubbing what a store deleted out of its files (the key vault's erasures, ADR 0004).

- SQLite: `secure_delete` zeroes deleted content in the file, and a `wal_checkpoint(TRUNCATE)`
  empties the write-ahead log that still held the page before.
- PostgreSQL: `VACUUM FULL` rewrites a table without its dead rows. It keeps a dead row that an
  open snapshot of the database may still see (an autovacuum analyse, a slow reader) and says
  so when `VERBOSE`: it is run again, backing off, until it keeps none. An erasure was seen
  leaving its wrapped key in the table's file under the test suite's load before this.
"""

import asyncio
import logging
import re
import sqlite3
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

SCRUB_WITHIN = 30.0
"""Seconds a scrub waits, at most, for the snapshots that keep a deleted row."""

_KEPT = re.compile(r"(\d+) dead row versions cannot be removed yet")
"""PostgreSQL's `VACUUM VERBOSE` detail (English messages) on the rows it had to keep."""


async def vacuum_full_until_clean(
    engine: AsyncEngine, table: str, within: float = SCRUB_WITHIN
) -> None:
    """`VACUUM FULL` of `table` until it keeps no dead row (at most `within` seconds)."""
    delay = 0.05
    deadline = asyncio.get_running_loop().time() + within
    while True:
        kept = await _vacuum_full(engine, table)
        if kept == 0:
            return
        if kept is None:  # the server's words unread: one more pass a moment later
            await asyncio.sleep(0.5)
            await _vacuum_full(engine, table)
            return
        if asyncio.get_running_loop().time() + delay > deadline:
            # Said without whose rows: the next scrub of the table takes them.
            log.warning("a scrub of %s left %s deleted row(s) in its files", table, kept)
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def _vacuum_full(engine: AsyncEngine, table: str) -> int | None:
    """`VACUUM (FULL, VERBOSE)` of the table: how many deleted rows it had to keep; None when
    the server did not say it in words we read (another `lc_messages`)."""
    said: list[str] = []
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        driver = (await auto.get_raw_connection()).driver_connection
        assert driver is not None  # asyncpg's connection, on PostgreSQL

        def listen(_conn: object, message: Any) -> None:
            said.append(f"{getattr(message, 'message', '')} {getattr(message, 'detail', '')}")

        driver.add_log_listener(listen)
        try:
            quoted = engine.dialect.identifier_preparer.quote(table)
            await auto.execute(text(f"VACUUM (FULL, VERBOSE) {quoted}"))
        finally:
            driver.remove_log_listener(listen)
    for line in said:
        found = _KEPT.search(line)
        if found:
            return int(found.group(1))
    return None


TRUNCATE_WAIT = 30.0
"""Seconds an emptying of a SQLite file's log waits for another checkpoint to finish."""


def _truncate_log(conn: sqlite3.Connection) -> None:
    """Checkpoint the whole log into the file and truncate it; SQLite answers "busy" without
    waiting when another connection checkpoints at that moment (the engine's own
    checkpointer, `shared.infra.sqlite`), then again, until it is done."""
    deadline = time.monotonic() + TRUNCATE_WAIT
    while True:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the SQLite log could not be emptied: checkpoints kept colliding")
        time.sleep(0.01)


async def sqlite_compact(engine: AsyncEngine, *, vacuum: bool) -> None:
    """Empty a SQLite file's write-ahead log into it (and with `vacuum` rewrite the file), on
    a connection of its own outside any transaction (the engine's begin every transaction)."""
    path = engine.url.database
    if not path or path == ":memory:":
        return

    def compact() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA secure_delete=ON")
            if vacuum:
                conn.execute("VACUUM")
            _truncate_log(conn)
        finally:
            conn.close()

    await asyncio.to_thread(compact)
