"""PostgreSQL connections are checked before use only when they rested: a connection the
server dropped while it rested is replaced without the request seeing an error, and a busy
pool costs no extra round trip per transaction."""

import asyncio
import uuid
from typing import Any

import pytest
from asyncpg.exceptions import InternalClientError
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


async def test_a_connection_left_mid_operation_is_thrown_away_and_reads_unavailable(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asyncpg's "cannot switch to state 15" (a protocol left mid-operation when the server
    shut down, seen in the fault suite) is not a disconnect to SQLAlchemy: the connection
    went back to the pool and failed the next transactions too, each a 500."""
    name = f"rest_{uuid.uuid4().hex[:8]}"
    url = await create_database(pg_dsn, name)
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))

        def left_mid_operation(*_args: Any, **_kwargs: Any) -> None:
            raise InternalClientError(
                "cannot switch to state 15; another operation (2) is in progress"
            )

        with monkeypatch.context() as patch:
            patch.setattr(engine.dialect, "do_execute", left_mid_operation)
            with pytest.raises(InternalClientError) as caught:
                async with engine.connect() as conn:
                    await conn.scalar(text("SELECT :one"), {"one": 1})
        assert db.unavailable(caught.value)  # 503 with Retry-After, not a 500

        async with engine.connect() as conn:  # a new connection, not the broken one
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()
        await drop_database(pg_dsn, name)
