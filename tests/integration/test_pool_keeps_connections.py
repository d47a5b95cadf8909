"""A PostgreSQL engine keeps the connections load made it open: a steady load of more
concurrent transactions than the pool holds reuses them instead of opening (TCP, TLS,
authentication, a server process) and closing one for every burst."""

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import event, text

from shared.infra.db import make_engine
from tests.infra import create_database, drop_database

pytestmark = pytest.mark.integration


async def test_bursts_beyond_the_pool_reuse_its_connections(pg_dsn: str) -> None:
    name = f"pool_{uuid.uuid4().hex[:8]}"
    url = await create_database(pg_dsn, name)
    engine = make_engine(url, pool_size=3)
    opened = 0

    @event.listens_for(engine.sync_engine, "connect")
    def _opened(_dbapi_connection: Any, _record: Any) -> None:
        nonlocal opened
        opened += 1

    async def transaction() -> int:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
            await asyncio.sleep(0.01)  # held a while, as a command holds it
            return int(pid)

    try:
        backends: set[int] = set()
        for _ in range(6):  # bursts of twice the pool, each after the last drained
            backends.update(await asyncio.gather(*(transaction() for _ in range(6))))
        assert opened <= 3
        assert len(backends) <= 3
    finally:
        await engine.dispose()
        await drop_database(pg_dsn, name)
