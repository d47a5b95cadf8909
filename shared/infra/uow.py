"""Unit of work: one database transaction for the aggregate's events, its outbox rows and
any view rows; committing wakes the outbox relay."""

import datetime as dt
import hashlib
from collections.abc import Callable
from types import TracebackType
from typing import Self

from pydantic import BaseModel
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contract.envelope import CloudEvent
from shared.infra.answers import write_pending_answer
from shared.infra.eventstore import EventStore
from shared.infra.outbox import OUTBOX_CHANNEL
from shared.infra.personal_data import PersonalDataCodec
from shared.infra.schema import CoreTables


class ConflictingDuplicate(Exception):
    """The same event id arrived with a different payload: a producer bug, not a retry."""


class SqlUnitOfWork:
    """Base unit of work; services subclass it to add their repositories and views."""

    session: AsyncSession
    events: EventStore

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tables: CoreTables,
        *,
        topic_prefix: str,
        on_commit: Callable[[], None],
        codec: Callable[[AsyncSession], PersonalDataCodec] | None = None,
    ) -> None:
        self._sessions = sessions
        self._tables = tables
        self._prefix = topic_prefix
        self._on_commit = on_commit
        self._codec = codec

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        await self.session.begin()
        codec = self._codec(self.session) if self._codec else None
        self.events = EventStore(self.session, self._tables, self._prefix, codec)
        self._started()
        return self

    def _started(self) -> None:
        """Hook for subclasses to bind repositories to the new session."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.session.in_transaction():
                await self.session.rollback()
        finally:
            await self.session.close()

    async def claim(self, consumer: str, envelope: CloudEvent) -> bool:
        """Record that `consumer` processes this event, in this transaction.

        Returns False when it was already processed (a redelivery: change nothing). The
        record commits with the consumer's effects, so a crash between the database commit
        and the offset commit cannot count the event twice.
        """
        digest = hashlib.sha256(envelope.to_json()).hexdigest()
        t = self._tables.processed
        seen = await self.session.scalar(
            select(t.c.payload_sha256).where(
                t.c.consumer == consumer, t.c.event_id == str(envelope.id)
            )
        )
        if seen is not None:
            if seen != digest:
                raise ConflictingDuplicate(f"event {envelope.id} redelivered with another payload")
            return False
        await self.session.execute(
            insert(t).values(
                consumer=consumer,
                event_id=str(envelope.id),
                payload_sha256=digest,
                processed_at=dt.datetime.now(dt.UTC),
            )
        )
        return True

    async def commit(self, answer: BaseModel | None = None) -> None:
        """Commit, then (when it queued events) wake the relay so they leave without a poll.

        `answer` is the command's result: when the request or message being served waits
        for its answer to be remembered (`shared.infra.answers`), it is written in this
        transaction, with the events.
        """
        await write_pending_answer(self.session, self._sessions, answer, self.events.appended)
        if self.events.appended and self.session.bind.dialect.name == "postgresql":
            # Delivered at commit, to every relay listening (other replicas included).
            await self.session.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))
        await self.session.commit()
        if self.events.appended:
            # A transaction that queued nothing (a consumer's projection, say) has nothing for
            # the relay: waking it would cost a transaction and a query for every event.
            self._on_commit()
