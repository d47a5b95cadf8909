"""PostgreSQL connections are checked before use only when they rested: a connection the
server dropped while it rested is replaced without the request seeing an error, and a busy
pool costs no extra round trip per transaction."""

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text

import shared.infra.db as db
from shared.infra.db import make_engine
from tests.infra import create_database, drop_database

pytestmark = pytest.mark.integration


async def test_a_connection_dropped_while_resting_is_replaced_before_use(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"rest_{uuid.uuid4().hex[:8]}"
    url = await create_database(pg_dsn, name)
    engine = make_engine(url, pool_size=1)
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.2)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with make_engine(url).connect() as admin:  # the server drops it (a restart would)
            await admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            await admin.commit()
        await asyncio.sleep(0.3)

        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()
        await drop_database(pg_dsn, name)


async def test_a_busy_connection_is_not_pinged(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"rest_{uuid.uuid4().hex[:8]}"
    url = await create_database(pg_dsn, name)
    engine = make_engine(url, pool_size=1)
    pings = 0
    ping = engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        nonlocal pings
        pings += 1
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    try:
        for _ in range(20):
            async with engine.connect() as conn:
                await conn.scalar(text("SELECT 1"))
        assert pings == 0
    finally:
        await engine.dispose()
        await drop_database(pg_dsn, name)
