"""The audit store on PostgreSQL: three services starting at once migrate it once, entries are
appended and queried, and the database itself refuses UPDATE, DELETE and TRUNCATE."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.infra.audit import AuditLog
from shared.infra.audit_entries import AuditRecord, Category, Channel, Outcome
from tests.infra import create_database, unique_name

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
