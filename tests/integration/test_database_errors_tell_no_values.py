"""A PostgreSQL error names the row it refused: `DETAIL: Key (id)=(…) already exists`, or
`Failing row contains (…)`, with SQLAlchemy adding the statement. What reaches a log line, a
traceback in the log (text or JSON) or a dead-letter reason says the error's type, SQLSTATE
and constraint, never those values."""

import io
import logging
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared.infra import logs
from shared.infra.db import make_engine
from shared.infra.redact import describe
from tests.infra import create_database, drop_database

pytestmark = pytest.mark.integration

SECRET = "Zơrâm-Thị-Bí-Mật-1979"


@pytest.mark.parametrize(
    ("statement", "sqlstate"),
    [
        ("INSERT INTO people (id, note) VALUES (:v, 'x')", "23505"),  # the key again
        ("INSERT INTO people (id, note) VALUES ('other', :v)", "23514"),  # the check fails
    ],
)
async def test_a_refused_row_is_told_without_its_values(
    pg_dsn: str, statement: str, sqlstate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"errs_{uuid.uuid4().hex[:8]}"
    url = await create_database(pg_dsn, name)
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "CREATE TABLE people (id text PRIMARY KEY, note text CHECK (length(note) < 5))"
                )
            )
            await conn.execute(text("INSERT INTO people VALUES (:v, 'x')"), {"v": SECRET})
        with pytest.raises(IntegrityError) as raised:
            async with engine.begin() as conn:
                await conn.execute(text(statement), {"v": SECRET})
        assert SECRET in str(raised.value.orig)  # what PostgreSQL said names the row

        told = describe(raised.value)
        assert sqlstate in told
        assert SECRET not in told
        for fmt in ("text", "json"):
            handler = logs.configure("test", fmt)
            stream = io.StringIO()
            monkeypatch.setattr(handler, "stream", stream)
            try:
                raise RuntimeError("the command failed") from raised.value
            except RuntimeError:
                logging.getLogger("test").exception("handling failed")
            written = stream.getvalue()
            assert "handling failed" in written
            assert "IntegrityError" in written
            assert SECRET not in written
    finally:
        await engine.dispose()
        await drop_database(pg_dsn, name)
