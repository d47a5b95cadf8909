"""A grouped statement with two guarded inserts on different tables (`held_sql.grouped`), run
on PostgreSQL: both written with every command's rows when both guards write; when one guard
writes nothing, the whole statement fails with the guard's SQLSTATE and nothing of any
command stays (so each can go again alone, `group_commit`)."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.infra.held_sql import GUARD_REFUSED, Guarded, Held, grouped
from tests.infra import create_database, drop_database, unique_name

pytestmark = pytest.mark.integration

metadata = MetaData()
answers = Table(
    "answers", metadata, Column("key", String, primary_key=True), Column("body", String)
)
turns = Table("turns", metadata, Column("who", String, primary_key=True), Column("n", Integer))
events = Table("events", metadata, Column("id", String, primary_key=True), Column("body", String))


@pytest.fixture
async def engine(pg_dsn: str) -> AsyncIterator[AsyncEngine]:
    name = unique_name("grouped")
    url = await create_database(pg_dsn, name)
    made = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with made.connect() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(turns.insert().values(who="w-1", n=3))
    yield made
    await made.dispose()
    await drop_database(pg_dsn, name)


def _members(seen: int) -> list[tuple[Held, Guarded | None]]:
    """Two commands: one answers under a new key, the other bumps a turn seen at `seen`."""

    def refused() -> Exception:
        return RuntimeError("refused")

    answer = Guarded(
        answers,
        {"key": "k-1", "body": "first"},
        "ON CONFLICT (key) DO UPDATE SET body = :g_body WHERE answers.body IS NULL",
        {"g_body": "first"},
        refused,
    )
    turn = Guarded(
        turns,
        {"who": "w-1", "n": 1},
        "ON CONFLICT (who) DO UPDATE SET n = turns.n + 1 WHERE turns.n = :g_seen",
        {"g_seen": seen},
        refused,
    )
    first: Held = {(events, ("id", "body")): [{"id": "e-1", "body": "x"}]}
    second: Held = {(events, ("id", "body")): [{"id": "e-2", "body": "y"}]}
    return [(first, answer), (second, turn)]


async def test_both_guards_write_and_every_row_goes(engine: AsyncEngine) -> None:
    statement, params = grouped(_members(seen=3), engine.dialect, None)
    async with engine.connect() as conn:
        await conn.execute(statement, params)
        ids = (await conn.scalars(select(events.c.id).order_by(events.c.id))).all()
        assert list(ids) == ["e-1", "e-2"]
        assert list((await conn.scalars(select(answers.c.body))).all()) == ["first"]
        assert list((await conn.scalars(select(turns.c.n))).all()) == [4]


async def test_one_guard_writing_nothing_fails_the_whole_statement(engine: AsyncEngine) -> None:
    statement, params = grouped(_members(seen=2), engine.dialect, None)  # the turn moved on
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError) as failed:
            await conn.execute(statement, params)
        assert getattr(failed.value.orig, "sqlstate", None) == GUARD_REFUSED
        assert list((await conn.scalars(select(events.c.id))).all()) == []
        assert list((await conn.scalars(select(answers.c.key))).all()) == []
        assert list((await conn.scalars(select(turns.c.n))).all()) == [3]
