"""Unit of work of the reporting service: the read models and the processed-event table."""

from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.adapters.tables import LIVE, core
from services.reporting.adapters.writer import write
from services.reporting.service_layer.changes import Changes
from shared.contract.envelope import CloudEvent
from shared.infra.uow import ConflictingDuplicate, SqlUnitOfWork, batch_digests

CLAIM_CHUNK = 2000

PG_CLAIM = """
WITH incoming AS (
    SELECT * FROM unnest($2::varchar[], $3::varchar[]) AS i(event_id, payload_sha256)
), claimed AS (
    INSERT INTO processed_events (consumer, event_id, payload_sha256, processed_at)
    SELECT $1, event_id, payload_sha256, now() FROM incoming
    ON CONFLICT DO NOTHING
    RETURNING event_id
)
SELECT i.event_id, coalesce(
    (
        SELECT k.payload_sha256 <> i.payload_sha256 FROM processed_events k
        WHERE k.consumer = $1 AND k.event_id = i.event_id
    ),
    false
) AS differs
FROM incoming i
WHERE i.event_id NOT IN (SELECT event_id FROM claimed)
"""
"""Claims a batch in one round trip; returns the ids already claimed (and whether their
recorded payload differs), looked up by primary key for those ids only. Another transaction
claiming an id meanwhile makes it wait, then the id counts as already claimed."""


class SqlReportingUnitOfWork(SqlUnitOfWork):
    """One transaction: the batch's claims and its upserts into the read models."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(sessions, core, topic_prefix="", on_commit=on_commit)

    async def apply(self, changes: Changes) -> None:
        """Merge a batch's folded rows into the live read models (`adapters/writer.py`)."""
        await write(self.session, LIVE, changes)

    async def claim_many(self, consumer: str, envelopes: Sequence[CloudEvent]) -> list[CloudEvent]:
        """`SqlUnitOfWork.claim_many`, in one round trip on PostgreSQL (`PG_CLAIM`)."""
        if self.session.bind.dialect.name != "postgresql":
            return await super().claim_many(consumer, envelopes)
        digests, fresh = batch_digests(envelopes)
        conn = await self.session.connection()
        ids = sorted(digests)  # a fixed order: concurrent claims cannot deadlock
        result = await conn.exec_driver_sql(PG_CLAIM, (consumer, ids, [digests[i] for i in ids]))
        claimed_before = result.all()
        for event_id, differs in claimed_before:
            if differs:
                raise ConflictingDuplicate(f"event {event_id} redelivered with another payload")
        if not claimed_before:
            return fresh
        known = {event_id for event_id, _ in claimed_before}
        return [e for e in fresh if str(e.id) not in known]
