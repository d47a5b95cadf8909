"""Two replicas of a service on one PostgreSQL database: a commit in one wakes the relay of
the other at once (LISTEN/NOTIFY), not after its poll interval; and one relay publishes at a
time (an advisory lock held for the batch's transaction): the second waits while the leader
holds it and takes over when the leader's process is killed mid-publish."""

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contract.envelope import CloudEvent
from shared.infra.db import make_engine, make_sessions
from shared.infra.outbox import OutboxRelay, OutgoingMessage
from shared.infra.schema import CoreTables, define_core_tables
from shared.infra.uow import SqlUnitOfWork
from tests.infra import create_database, drop_database, unique_name

pytestmark = pytest.mark.integration


class Recording:
    """A publisher that keeps what it was given; `all_sent` once it has `expect` messages."""

    def __init__(self, expect: int = 1) -> None:
        self.sent: list[OutgoingMessage] = []
        self.arrived = asyncio.Event()
        self.expect = expect
        self.all_sent = asyncio.Event()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        self.sent.extend(messages)
        self.arrived.set()
        if len(self.sent) >= self.expect:
            self.all_sent.set()

    async def reset(self) -> None:
        """Nothing to reconnect."""


@pytest.fixture
async def database(
    pg_dsn: str,
) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession], CoreTables]]:
    name = unique_name("outbox")
    url = await create_database(pg_dsn, name)
    md = MetaData()
    tables = define_core_tables(md)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
    yield url, make_sessions(engine), tables
    await engine.dispose()
    await drop_database(pg_dsn, name)


def _event() -> CloudEvent:
    need_id = uuid.uuid4()
    return CloudEvent(
        id=uuid.uuid4(),
        source="/services/needs",
        type="NeedWithdrawn",
        subject=str(need_id),
        time=dt.datetime.now(dt.UTC),
        data={"need_id": str(need_id)},
        aggregateversion=1,
        correlationid="c",
        causationid="c",
        actor="test",
    )


async def test_a_commit_in_one_replica_wakes_the_relay_of_another(
    database: tuple[str, async_sessionmaker[AsyncSession], CoreTables],
) -> None:
    _, sessions, tables = database
    publisher = Recording()
    # Replica B relays; its poll alone would take a minute.
    relay_b = OutboxRelay(sessions, tables, publisher, lock_key=7, poll_interval=60)
    relay_b.start()
    try:
        await asyncio.wait_for(relay_b.listening.wait(), 10)
        await asyncio.sleep(0.2)  # B's first drain (nothing to send) is done
        # Replica A commits an event; its own relay is not running.
        event = _event()
        async with SqlUnitOfWork(sessions, tables, topic_prefix="", on_commit=lambda: None) as uow:
            await uow.events.append(event.subject or "", 0, [event])
            await uow.commit()
        await asyncio.wait_for(publisher.arrived.wait(), 5)
        assert [m.key for m in publisher.sent] == [event.subject]
    finally:
        await relay_b.stop()


LOCK_KEY = 4242


async def _wait_for_line(process: asyncio.subprocess.Process, prefix: str) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(60):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError("the leader exited before it took the lock")
            if line.startswith(prefix):
                return line.strip()


async def test_the_second_replica_waits_for_the_leader_and_takes_over_when_it_is_killed(
    database: tuple[str, async_sessionmaker[AsyncSession], CoreTables],
) -> None:
    url, sessions, tables = database
    events = [_event() for _ in range(3)]
    for event in events:
        async with SqlUnitOfWork(sessions, tables, topic_prefix="", on_commit=lambda: None) as uow:
            await uow.events.append(event.subject or "", 0, [event])
            await uow.commit()

    leader = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.stuck_relay",
        url,
        str(LOCK_KEY),
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    publisher = Recording(expect=len(events))
    follower = OutboxRelay(sessions, tables, publisher, lock_key=LOCK_KEY, poll_interval=0.2)
    try:
        assert await _wait_for_line(leader, "publishing") == "publishing 3"
        follower.start()
        await asyncio.sleep(1.0)  # five polls: the lock is held, the follower sends nothing
        assert publisher.sent == []

        os.killpg(leader.pid, signal.SIGKILL)  # mid-publish, inside the locked transaction
        await leader.wait()
        await asyncio.wait_for(publisher.all_sent.wait(), 30)
        assert [m.key for m in publisher.sent] == [e.subject for e in events]
        async with sessions() as s:
            pending = select(func.count()).where(tables.outbox.c.published_at.is_(None))
            assert await s.scalar(pending) == 0
    finally:
        await follower.stop()
        if leader.returncode is None:
            os.killpg(leader.pid, signal.SIGKILL)
            await leader.wait()
