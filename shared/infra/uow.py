"""Unit of work: one database transaction for the aggregate's events, its outbox rows and
any view rows; committing wakes the outbox relay."""

import contextlib
import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import Self

from pydantic import BaseModel
from sqlalchemy import Insert, Select, Table, Update, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.contract.envelope import CloudEvent
from shared.infra.answers import write_pending_answer
from shared.infra.audit_outbox import write_pending_audit
from shared.infra.eventstore import EventStore
from shared.infra.fast_insert import HELD_ROWS_WAIT, Inserts
from shared.infra.outbox import OUTBOX_CHANNEL
from shared.infra.personal_data import PersonalDataCodec
from shared.infra.schema import CoreTables


@functools.cache
def _claim_statements(processed: Table) -> tuple[Select[tuple[str]], Insert]:
    """Built once per table (SQLAlchemy then reuses their compiled form)."""
    find = select(processed.c.payload_sha256).where(
        processed.c.consumer == bindparam("b_consumer"),
        processed.c.event_id == bindparam("b_event_id"),
    )
    return find, insert(processed)


@functools.cache
def _update(table: Table, key: str) -> Update:
    """The update of one row by its `key` column (bound as `b_key`; the values name the
    columns to set), built once per table."""
    return update(table).where(table.c[key] == bindparam("b_key"))


CLAIM_CHUNK = 2000
"""Event ids looked up per statement when claiming a batch."""

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


class ConflictingDuplicate(Exception):
    """The same event id arrived with a different payload: a producer bug, not a retry."""


def batch_digests(envelopes: Sequence[CloudEvent]) -> tuple[dict[str, str], list[CloudEvent]]:
    """Each event id's payload digest, and the batch's first occurrence of each id, in order;
    ConflictingDuplicate when an id comes twice with different payloads."""
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
    return digests, fresh


class SharedTransaction:
    """One transaction that the units of work of several commands join (a fetch of Kafka
    commands, `CommandProcessor.handle_many`): one BEGIN, one COMMIT and one relay wake-up for
    all of them instead of one each. A unit of work that joins writes in it and does not
    commit; whoever opened it commits once every command ran, or rolls all of them back.
    Every command of a run queues its reply, so its commit always wakes the relays."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.session = sessions()
        self.inserts = Inserts(self.session, deferred=True)

    async def commit(self) -> None:
        """Commit every joined unit of work's writes and tell the relays."""
        await self.inserts.flush(notify=OUTBOX_CHANNEL)
        if self.inserts.failed:  # an error someone caught took held rows with it
            raise RuntimeError("held inserts failed: the shared transaction cannot commit")
        await self.session.commit()

    async def close(self) -> None:
        """Roll back what was not committed and give the connection back."""
        try:
            if self.session.in_transaction():
                await self.session.rollback()
        finally:
            await self.session.close()


_SHARED: ContextVar[SharedTransaction | None] = ContextVar("shared_transaction", default=None)


@contextlib.contextmanager
def sharing(shared: SharedTransaction) -> Iterator[None]:
    """Units of work on `shared.sessions` opened in this context join `shared`."""
    token = _SHARED.set(shared)
    try:
        yield
    finally:
        _SHARED.reset(token)


class SqlUnitOfWork:
    """Base unit of work; services subclass it to add their repositories and views."""

    session: AsyncSession
    events: EventStore
    inserts: Inserts
    _shared: SharedTransaction | None = None

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
        shared = _SHARED.get()
        self._shared = shared if shared is not None and shared.sessions is self._sessions else None
        if self._shared is not None:
            self.session = self._shared.session
            self.inserts = self._shared.inserts
        else:
            self.session = self._sessions()  # begins with its first statement (autobegin)
            # PostgreSQL: the command's rows go in one statement (`fast_insert`).
            postgres = self.session.bind.dialect.name == "postgresql"
            self.inserts = Inserts(self.session, deferred=postgres)
        codec = self._codec(self.session) if self._codec else None
        self.events = EventStore(self.session, self._tables, self._prefix, codec, self.inserts)
        self._started()
        return self

    @property
    def shared(self) -> bool:
        """It joined a `SharedTransaction` (commits with the commands around it)."""
        return self._shared is not None

    def _started(self) -> None:
        """Hook for subclasses to bind repositories to the new session."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._shared is not None:
            return  # its opener commits or rolls back
        try:
            if self.session.in_transaction():
                await self.session.rollback()
        finally:
            await self.session.close()

    async def _flushed_alone(self, notify: str | None) -> bool:
        """The held rows written as one statement of their own (`Inserts.flush_alone`) when
        no statement ran in this unit of work yet: its session has not begun a transaction
        (the first statement begins it)."""
        engine = self.session.bind
        if self.session.sync_session.get_transaction() is not None:
            return False
        return isinstance(engine, AsyncEngine) and await self.inserts.flush_alone(
            engine, notify=notify
        )

    def created(self, stream_id: str) -> bool:
        """True when this transaction appended the stream's first event: its view rows are
        new (an insert, without first trying an update)."""
        return any(e.subject == stream_id and e.aggregateversion == 1 for e in self.events.appended)

    async def write_row(
        self, table: Table, key: str, stream_id: str, values: Mapping[str, object]
    ) -> None:
        """Keep the stream's row of `table` (keyed by the column `key`) in step with its
        events: an insert for a stream this transaction created, else an update, and an insert
        when there was no row to update."""
        row = {key: stream_id, **values}
        if self.created(stream_id):
            await self.inserts.rows(table, [row])
            return
        updated = await self.session.execute(
            _update(table, key),
            {"b_key": stream_id, **values},
            # It reads its own table only: rows held for others may go later, with the commit.
            execution_options={HELD_ROWS_WAIT: not self.inserts.holds(table)},
        )
        if getattr(updated, "rowcount", 0) == 0:
            await self.inserts.rows(table, [row])

    async def claim(self, consumer: str, envelope: CloudEvent) -> bool:
        """Record that `consumer` processes this event, in this transaction.

        Returns False when it was already processed (a redelivery: change nothing). The
        record commits with the consumer's effects, so a crash between the database commit
        and the offset commit cannot count the event twice.
        """
        digest = hashlib.sha256(envelope.to_json()).hexdigest()
        find, record = _claim_statements(self._tables.processed)
        seen = await self.session.scalar(
            find, {"b_consumer": consumer, "b_event_id": str(envelope.id)}
        )
        if seen is not None:
            if seen != digest:
                raise ConflictingDuplicate(f"event {envelope.id} redelivered with another payload")
            return False
        await self.session.execute(
            record,
            {
                "consumer": consumer,
                "event_id": str(envelope.id),
                "payload_sha256": digest,
                "processed_at": dt.datetime.now(dt.UTC),
            },
        )
        return True

    async def claim_many(self, consumer: str, envelopes: Sequence[CloudEvent]) -> list[CloudEvent]:
        """`claim()` for a batch: records the new event ids in this transaction and returns
        the new events (first occurrence of each id, in order); one statement on PostgreSQL,
        two on SQLite. Raises ConflictingDuplicate when an id comes back with another payload."""
        digests, fresh = batch_digests(envelopes)
        if self.session.bind.dialect.name == "postgresql":
            return await self._claim_on_postgres(consumer, digests, fresh)
        t = self._tables.processed
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
                _claim_statements(t)[1],
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

    async def _claim_on_postgres(
        self, consumer: str, digests: dict[str, str], fresh: list[CloudEvent]
    ) -> list[CloudEvent]:
        """`claim_many` in one round trip (`PG_CLAIM`); the batch's first statement, so no
        held row has to go before it (it bypasses the session's statement hook)."""
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

    async def commit(self, answer: BaseModel | None = None) -> None:
        """Commit, then (when it queued something) wake the relay so it leaves without a poll.

        `answer` is the command's result: when the request or message being served waits
        for its answer to be remembered (`shared.infra.answers`), it is written in this
        transaction, with the events.
        """
        answered = await write_pending_answer(
            self.session, self._sessions, answer, self.events.appended, self.inserts
        )
        if self._shared is not None:  # its opener commits, once for every command (a Kafka
            return  # command's audit entry is written with its reply: no request's to write)
        audited = await write_pending_audit(self.inserts, self._tables.audit_outbox, answer)
        # The held rows, and (for new events) a notification delivered at commit to every
        # relay listening, other replicas included: one statement on PostgreSQL; on its own,
        # without BEGIN and COMMIT, when the transaction ran nothing else (a new need).
        notify = OUTBOX_CHANNEL if self.events.appended else None
        if not await self._flushed_alone(notify):
            await self.inserts.flush(notify=notify)
        if self.inserts.failed:  # an error someone caught took held rows with it
            raise RuntimeError("held inserts failed: the transaction cannot commit")
        if self.session.in_transaction():  # else nothing ran, or its rows went alone
            await self.session.commit()
        if audited is not None:
            audited.committed = True  # the request's entry is in: the middleware writes none
        if self.events.appended or answered or audited:
            # The outboxes have rows (events, a Kafka reply, an audit entry). A transaction
            # that queued nothing (a consumer's projection, say) has nothing for the relay:
            # waking it would cost a transaction and a query for every event.
            self._on_commit()
