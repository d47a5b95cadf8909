"""Unit of work of the reporting service: the read models and the processed-event table."""

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.adapters.tables import core
from shared.contract.envelope import CloudEvent
from shared.infra.uow import ConflictingDuplicate, SqlUnitOfWork

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


class ReportingUnitOfWork(SqlUnitOfWork):
    """One transaction: the batch's claims and its upserts into the read models."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(sessions, core, topic_prefix="", on_commit=on_commit)

    async def claim_many(self, consumer: str, envelopes: Sequence[CloudEvent]) -> list[CloudEvent]:
        """`claim()` for a batch: records the new event ids in this transaction and returns
        the new events (first occurrence of each id, in order). Raises ConflictingDuplicate
        when an id comes back with another payload."""
        digests: dict[str, str] = {}
        fresh: list[CloudEvent] = []
        for envelope in envelopes:
            key = str(envelope.id)
            digest = hashlib.sha256(envelope.to_json()).hexdigest()
            if key in digests:
                if digests[key] != digest:
                    raise ConflictingDuplicate(f"event {key} twice in a batch, payloads differ")
                continue
            digests[key] = digest
            fresh.append(envelope)
        if self.session.bind.dialect.name == "postgresql":
            conn = await self.session.connection()
            ids = sorted(digests)  # a fixed order: concurrent claims cannot deadlock
            result = await conn.exec_driver_sql(
                PG_CLAIM, (consumer, ids, [digests[i] for i in ids])
            )
            claimed_before = result.all()
            for event_id, differs in claimed_before:
                if differs:
                    raise ConflictingDuplicate(f"event {event_id} redelivered with another payload")
            if not claimed_before:
                return fresh
            known = {event_id for event_id, _ in claimed_before}
            return [e for e in fresh if str(e.id) not in known]
        t = core.processed
        ids = list(digests)
        seen: dict[str, str] = {}
        for start in range(0, len(ids), CLAIM_CHUNK):
            rows = await self.session.execute(
                select(t.c.event_id, t.c.payload_sha256).where(
                    t.c.consumer == consumer, t.c.event_id.in_(ids[start : start + CLAIM_CHUNK])
                )
            )
            seen.update({r.event_id: r.payload_sha256 for r in rows})
        for key, digest in seen.items():
            if digests[key] != digest:
                raise ConflictingDuplicate(f"event {key} redelivered with another payload")
        fresh = [e for e in fresh if str(e.id) not in seen]
        if fresh:
            now = dt.datetime.now(dt.UTC)
            await self.session.execute(
                insert(t),
                [
                    {
                        "consumer": consumer,
                        "event_id": str(e.id),
                        "payload_sha256": digests[str(e.id)],
                        "processed_at": now,
                    }
                    for e in fresh
                ],
            )
        return fresh
