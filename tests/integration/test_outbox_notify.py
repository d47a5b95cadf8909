"""Two replicas of a service on one PostgreSQL database: a commit in one wakes the relay of
the other at once (LISTEN/NOTIFY), not after its poll interval."""

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contract.envelope import CloudEvent
from shared.infra.db import make_engine, make_sessions
from shared.infra.outbox import OutboxRelay, OutgoingMessage
from shared.infra.schema import CoreTables, define_core_tables
from shared.infra.uow import SqlUnitOfWork
from tests.infra import create_database, drop_database, unique_name

pytestmark = pytest.mark.integration


class Recording:
    """A publisher that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.arrived = asyncio.Event()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        self.sent.extend(messages)
        self.arrived.set()

    async def reset(self) -> None:
        """Nothing to reconnect."""


@pytest.fixture
async def database(
    pg_dsn: str,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], CoreTables]]:
    name = unique_name("outbox")
    url = await create_database(pg_dsn, name)
    md = MetaData()
    tables = define_core_tables(md)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
    yield make_sessions(engine), tables
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
    database: tuple[async_sessionmaker[AsyncSession], CoreTables],
) -> None:
    sessions, tables = database
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
