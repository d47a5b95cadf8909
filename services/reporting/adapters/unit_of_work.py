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
