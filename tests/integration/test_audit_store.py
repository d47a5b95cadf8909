"""The audit store on PostgreSQL: three services starting at once migrate it once, entries are
appended and queried, and the database itself refuses UPDATE, DELETE and TRUNCATE."""

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.infra.audit import AuditLog, ForwardedEntry
from shared.infra.audit_entries import AuditRecord, Category, Channel, Outcome
from tests.infra import create_database, unique_name
from tests.statements import statements_sent

pytestmark = pytest.mark.integration


def _entry(agency: str, action: str, *records: tuple[str, str]) -> AuditRecord:
    return AuditRecord(
        channel=Channel.HTTP,
        agency=agency,
        subject=f"someone@{agency.lower()}",
        action=action,
        category=Category.COMMAND,
        outcome=Outcome.ACCEPTED,
        status=201,
        route="POST /api/needs",
        records=records,
    )


async def test_the_store_is_migrated_once_appends_and_refuses_any_change(pg_dsn: str) -> None:
    url = await create_database(pg_dsn, unique_name("audit"))
    stores = [AuditLog(url) for _ in range(3)]
    try:
        await asyncio.gather(*(s.start() for s in stores))  # the three services at once
        log = stores[0]
        first = await log.record(_entry("SO_Y_TE", "RaiseNeed", ("need", "n-1")))
        await stores[1].record(_entry("NAM_GIANG", "SecondOfficial", ("need", "n-1")))
        await stores[2].record(_entry("NAM_GIANG", "EndSecondment", ("secondment", "s-1")))

        assert [e.action for e in await log.entries(record="n-1")] == [
            "RaiseNeed",
            "SecondOfficial",
        ]
        assert [e.agency for e in await log.entries(agency="NAM_GIANG")] == ["NAM_GIANG"] * 2
        assert [e.position for e in await log.entries(after=first, limit=1)] == [first + 1]

        for statement in (
            "UPDATE audit_log SET agency = 'SO_Y_TE'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log CASCADE",
            "UPDATE audit_records SET record_id = 'x'",
            "DELETE FROM audit_records",
            "TRUNCATE audit_records",
        ):
            async with log.engine.begin() as conn:
                with pytest.raises(DBAPIError, match="append-only"):
                    await conn.execute(text(statement))
        async with log.engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM audit_log")) == 3
            assert await conn.scalar(text("SELECT count(*) FROM alembic_version_audit")) == 1
    finally:
        for s in stores:
            await s.stop()


async def test_a_forwarded_batch_goes_in_one_insert_in_its_order(pg_dsn: str) -> None:
    """A service forwards its committed entries hundreds at a time: one INSERT for the batch
    (it was a round trip per entry), positions in the batch's order, each entry's records kept
    with its own position, an entry forwarded again kept once."""
    log = AuditLog(await create_database(pg_dsn, unique_name("audit")))
    await log.start()
    try:
        at = dt.datetime(2024, 8, 1, tzinfo=dt.UTC)
        batch = [
            ForwardedEntry(
                str(uuid.uuid4()), _entry("SO_Y_TE", f"RaiseNeed{i}", ("need", f"n-{i}")), at
            )
            for i in range(300)
        ]
        with statements_sent(log.engine) as sent:
            assert await log.append_forwarded(batch) == 300
        assert sum("INSERT INTO audit_log" in s for s in sent) == 1

        assert await log.append_forwarded(batch[:10]) == 0  # again: nothing new
        async with log.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT l.action, r.record_id FROM audit_log l "
                        "JOIN audit_records r USING (position) ORDER BY l.position"
                    )
                )
            ).all()
        assert [tuple(r) for r in rows] == [(f"RaiseNeed{i}", f"n-{i}") for i in range(300)]
    finally:
        await log.stop()
