"""SQLite on the event loop's thread (`shared.infra.sqlite`): a process's transactions on a
file take turns on its one connection, and a write lock held by another process is waited for
without stopping the event loop."""

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.infra import sqlite as loop_sqlite
from shared.infra.db import make_engine, make_sessions
from shared.infra.sqlite import driver_of


def _size(path: Path) -> int:
    return path.stat().st_size


def _checkpointers() -> int:
    return sum(t.name == "sqlite-checkpoint" for t in threading.enumerate())


async def test_concurrent_transactions_on_one_file_take_turns_and_all_commit(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    sessions = make_sessions(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            await conn.execute(text("INSERT INTO counter VALUES (0)"))

        async def increment() -> None:
            async with sessions() as session, session.begin():
                n = await session.scalar(text("SELECT n FROM counter"))
                await asyncio.sleep(0)  # let the others try to get in meanwhile
                await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

        await asyncio.gather(*(increment() for _ in range(40)))
        async with sessions() as session:
            assert await session.scalar(text("SELECT n FROM counter")) == 40
    finally:
        await engine.dispose()


async def test_a_lock_held_by_another_process_is_waited_for_while_the_loop_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    sessions = make_sessions(engine)
    other = sqlite3.connect(path, isolation_level=None)  # as another process would
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER NOT NULL)"))
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        async def write() -> None:
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO t VALUES (1)"))

        ticking = asyncio.create_task(ticker())
        writing = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writing.done()  # waiting for the other process's lock …
        assert ticks >= 10  # … while the event loop serves everyone else
        other.execute("COMMIT")
        await asyncio.wait_for(writing, 5)
        ticking.cancel()
        assert other.execute("SELECT count(*) FROM t").fetchone() == (1,)
    finally:
        other.close()
        await engine.dispose()


async def test_a_transaction_through_the_driver_commits_waits_for_a_lock_and_undoes_a_failure(
    tmp_path: Path,
) -> None:
    """`transaction_now` (the key vault's path): it waits for another process's write lock
    as any statement does, commits what `work` wrote, and leaves nothing of a `work` that
    raised, with the connection free for the next one."""
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)  # as another process would
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
        other.execute("BEGIN IMMEDIATE")

        async def write(n: int) -> list[tuple[int]]:
            def work(db: sqlite3.Connection) -> list[tuple[int]]:
                db.execute("INSERT INTO t VALUES (?)", (n,))
                return db.execute("SELECT n FROM t ORDER BY n").fetchall()

            async with engine.connect() as conn:
                return await (await driver_of(conn)).transaction_now(work)

        writing = asyncio.create_task(write(1))
        await asyncio.sleep(0.2)
        assert not writing.done()  # waiting for the other process's lock
        other.execute("COMMIT")
        assert await asyncio.wait_for(writing, 5) == [(1,)]

        with pytest.raises(sqlite3.IntegrityError):
            await write(1)  # a duplicate: raised, rolled back
        assert await write(2) == [(1,), (2,)]
        assert other.execute("SELECT n FROM t ORDER BY n").fetchall() == [(1,), (2,)]
        async with engine.connect() as conn:
            assert await (await driver_of(conn)).read_now("SELECT count(*) FROM t", ()) == [(2,)]
    finally:
        other.close()
        await engine.dispose()


async def test_the_write_ahead_log_is_checkpointed_off_the_loop_and_stops_with_the_engine(
    tmp_path: Path,
) -> None:
    """Below `WAL_PAGES_AT_MOST` pages no commit on the loop's connection runs a checkpoint
    (4–7 ms with the loop standing still at SQLite's 1,000); a thread of its own moves the log
    into the database file meanwhile."""
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, pad TEXT)"))
        async with engine.connect() as conn:
            driver = await driver_of(conn)
            pages = await driver.read_now("PRAGMA wal_autocheckpoint", ())
            assert pages == [(loop_sqlite.WAL_PAGES_AT_MOST,)]
        empty = path.stat().st_size
        for batch in range(20):  # about 8 MB of log: past SQLite's own 1,000-page mark
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO t (n, pad) VALUES (:n, :pad)"),
                    [{"n": batch * 100 + i, "pad": "x" * 4000} for i in range(100)],
                )
        deadline = asyncio.get_running_loop().time() + 5
        while path.stat().st_size < empty + 7_000_000:
            assert asyncio.get_running_loop().time() < deadline, "the log was not checkpointed"
            await asyncio.sleep(0.05)
        assert _checkpointers() == 1
    finally:
        await engine.dispose()
    assert _checkpointers() == 0
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM t").fetchone() == (2000,)
    other.close()


async def test_the_log_stays_bounded_under_writes_that_never_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint beside a busy writer never catches up with it, and SQLite starts the log
    over only after one did: without the commits' own checkpoint at `WAL_PAGES_AT_MOST`
    pages, a second of small transactions grew the log by thousands of pages, for good."""
    monkeypatch.setattr(loop_sqlite, "WAL_PAGES_AT_MOST", 200)
    path = tmp_path / "x.db"
    log = Path(f"{path}-wal")
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, pad TEXT)"))
        largest, n = 0, 0
        ends = asyncio.get_running_loop().time() + 1.5
        while asyncio.get_running_loop().time() < ends:
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO t (n, pad) VALUES (:n, :pad)"), {"n": n, "pad": "x" * 3000}
                )
            n += 1
            largest = max(largest, _size(log))
        assert n > 1000  # enough writes to cross the bound many times
        assert largest < 260 * (4096 + 24) + 32  # the bound, a transaction's pages, the header
    finally:
        await engine.dispose()
