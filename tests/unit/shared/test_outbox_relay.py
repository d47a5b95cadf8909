"""The outbox relay on SQLite: publishes in commit order, marks rows only once the publisher
accepted them, and deletes published rows once they are older than the retention."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import MetaData, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.infra.db import make_engine, make_sessions
from shared.infra.outbox import OutboxRelay, OutgoingMessage
from shared.infra.schema import CoreTables, define_core_tables

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


class Recording:
    """A publisher that keeps what it was given, or refuses while `down`."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.down = False

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.sent.extend(messages)

    async def reset(self) -> None:
        """Nothing to reconnect."""


@dataclass(frozen=True)
class Outbox:
    relay: OutboxRelay
    publisher: Recording
    tables: CoreTables
    sessions: async_sessionmaker[AsyncSession]

    async def queue(self, n: int, published_at: dt.datetime | None) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                insert(self.tables.outbox),
                [
                    {
                        "event_id": f"e-{published_at}-{i}",
                        "topic": "secondment.needs.v1",
                        "key": f"k{i}",
                        "payload": f"payload {i}",
                        "created_at": NOW - dt.timedelta(days=30),
                        "published_at": published_at,
                    }
                    for i in range(n)
                ],
            )

    async def rows(self) -> tuple[int, int]:
        """(published rows, unpublished rows)"""
        t = self.tables.outbox
        async with self.sessions() as session:
            published = await session.scalar(
                select(func.count()).select_from(t).where(t.c.published_at.is_not(None))
            )
            waiting = await session.scalar(
                select(func.count()).select_from(t).where(t.c.published_at.is_(None))
            )
        return int(published or 0), int(waiting or 0)


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    md = MetaData()
    tables = define_core_tables(md)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
    sessions = make_sessions(engine)
    publisher = Recording()
    relay = OutboxRelay(sessions, tables, publisher, lock_key=1, retention=dt.timedelta(days=7))
    yield Outbox(relay, publisher, tables, sessions)
    await engine.dispose()


async def test_rows_are_marked_only_once_the_publisher_accepted_them(outbox: Outbox) -> None:
    await outbox.queue(3, None)
    outbox.publisher.down = True
    with pytest.raises(ConnectionError):
        await outbox.relay.drain()
    assert await outbox.rows() == (0, 3)
    outbox.publisher.down = False
    assert await outbox.relay.drain() == 3
    assert [m.key for m in outbox.publisher.sent] == ["k0", "k1", "k2"]
    assert await outbox.rows() == (3, 0)


async def test_published_rows_older_than_the_retention_are_deleted_and_no_other(
    outbox: Outbox,
) -> None:
    await outbox.queue(12_000, NOW - dt.timedelta(days=8))  # more than one chunk
    await outbox.queue(4, NOW - dt.timedelta(days=6))
    await outbox.queue(2, None)  # not yet published: never deleted, however old
    assert await outbox.relay.purge(now=NOW) == 12_000
    assert await outbox.rows() == (4, 2)
    assert await outbox.relay.purge(now=NOW) == 0


class Slow(Recording):
    """A publisher that takes a while, and says when it started."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        self.started.set()
        await asyncio.sleep(0.3)
        await super().publish(messages)


async def test_stopping_finishes_the_batch_in_flight_instead_of_cancelling_it(
    outbox: Outbox,
) -> None:
    slow = Slow()
    relay = OutboxRelay(outbox.sessions, outbox.tables, slow, lock_key=1)
    await outbox.queue(3, None)
    relay.start()
    await asyncio.wait_for(slow.started.wait(), 5)
    await relay.stop()  # while the batch is being published
    assert [m.key for m in slow.sent] == ["k0", "k1", "k2"]
    assert await outbox.rows() == (3, 0)  # marked: a restart will not send them again
