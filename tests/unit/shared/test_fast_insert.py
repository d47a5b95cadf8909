"""`Inserts.rows` on the embedded default's SQLite: rows stored as SQLAlchemy stores them (read
back alike), inside the session's transaction (a rollback takes them away), and a constraint
violation raised as SQLAlchemy's IntegrityError (the event store turns it into a conflict)."""

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.infra.db import make_engine, make_sessions
from shared.infra.fast_insert import Inserts

metadata = MetaData()
rows_table = Table(
    "rows",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("n", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
Sessions = async_sessionmaker[AsyncSession]
AT = dt.datetime(2026, 12, 4, 13, 5, 6, 789000, tzinfo=dt.UTC)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield make_sessions(engine)
    await engine.dispose()


async def test_rows_are_stored_as_sqlalchemy_stores_them(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await Inserts(session).rows(rows_table, [{"id": "a", "n": 1, "at": AT}])
        await session.execute(insert(rows_table), {"id": "b", "n": 2, "at": AT})
    async with sessions() as session:
        got = (await session.execute(select(rows_table).order_by(rows_table.c.id))).all()
        raw = (await session.connection()).exec_driver_sql("SELECT at FROM rows ORDER BY id")
        stored = [r[0] for r in (await raw).all()]
    assert [(r.id, r.n, r.at.replace(tzinfo=dt.UTC)) for r in got] == [("a", 1, AT), ("b", 2, AT)]
    assert stored[0] == stored[1]  # the same text as SQLAlchemy's own insert


async def test_the_rows_belong_to_the_sessions_transaction(sessions: Sessions) -> None:
    async with sessions() as session:
        await session.begin()
        await Inserts(session).rows(rows_table, [{"id": "a", "n": 1, "at": AT}])
        await session.rollback()
    async with sessions() as session:
        assert (await session.execute(select(rows_table))).all() == []


async def test_a_duplicate_key_is_sqlalchemys_integrity_error(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await Inserts(session).rows(rows_table, [{"id": "a", "n": 1, "at": AT}])
    async with sessions() as session, session.begin():
        with pytest.raises(IntegrityError):
            await Inserts(session).rows(rows_table, [{"id": "a", "n": 2, "at": AT}])


@pytest.mark.parametrize("through", ["inserts", "sqlalchemy"])
async def test_a_constraint_violation_names_no_value_it_was_given(
    sessions: Sessions, through: str
) -> None:
    """A database error's text reaches the logs (a 500's traceback, a consumer's retry): the
    values of the statement, personal data among them, must not be in it."""
    secret = "Zơrâm-Thị-Bí-Mật"

    async def insert_twice() -> None:
        async with sessions() as session, session.begin():
            for _ in range(2):
                row = {"id": secret, "n": 1, "at": AT}
                if through == "inserts":
                    await Inserts(session).rows(rows_table, [row])
                else:
                    await session.execute(insert(rows_table), row)

    with pytest.raises(IntegrityError) as raised:
        await insert_twice()
    assert "UNIQUE" in str(raised.value)
    assert secret not in str(raised.value)


@pytest.mark.parametrize("deferred", [False, True])
async def test_a_key_that_is_no_column_is_refused_at_once(
    sessions: Sessions, deferred: bool
) -> None:
    """Not later, when held rows go (as a KeyError, which a consumer takes for poison)."""
    async with sessions() as session, session.begin():
        inserts = Inserts(session, deferred=deferred)
        with pytest.raises(ValueError, match="rows has no column nn"):
            await inserts.rows(rows_table, [{"id": "a", "nn": 1, "at": AT}])


async def test_rows_held_inside_a_savepoint_stop_the_transaction(sessions: Sessions) -> None:
    """A rolled-back savepoint would not take rows that had not gone yet: refused."""
    async with sessions() as session, session.begin():
        inserts = Inserts(session, deferred=True)
        async with session.begin_nested():
            with pytest.raises(RuntimeError, match="inside a savepoint"):
                await inserts.rows(rows_table, [{"id": "a", "n": 1, "at": AT}])
        assert inserts.failed
