"""Append-only event store with optimistic concurrency, writing the outbox in the same
transaction, and a generic repository of event-sourced aggregates."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contract.envelope import CloudEvent, read_event
from shared.contract.events import EventData
from shared.contract.topics import TOPIC_OF_EVENT, topic_name
from shared.contract.upcasting import UPCASTERS, UpcasterRegistry
from shared.infra import tracing
from shared.infra.fast_insert import Inserts
from shared.infra.personal_data import PersonalDataCodec
from shared.infra.schema import CoreTables
from shared.seedwork.aggregate import Aggregate
from shared.seedwork.errors import ConcurrencyConflict
from shared.seedwork.ports import RequestContext, pending_envelopes


def _lost_race(rows: Sequence[Mapping[str, Any]]) -> ConcurrencyConflict:
    """A held event row's (stream, version) taken by the time it went: another command won."""
    return ConcurrencyConflict(str(rows[0]["stream_id"]), int(rows[0]["version"]) - 1)


LOAD_CHUNK = 500
"""Streams loaded per statement by `load_many`."""


class EventStore:
    """One service's event store, bound to the unit of work's session."""

    def __init__(
        self,
        session: AsyncSession,
        tables: CoreTables,
        topic_prefix: str,
        codec: PersonalDataCodec | None = None,
        inserts: Inserts | None = None,
    ) -> None:
        self._session = session
        self._t = tables
        self._prefix = topic_prefix
        self._codec = codec
        self._inserts = inserts or Inserts(session)
        self._inserts.on_violation(tables.events, _lost_race)
        self.appended: list[CloudEvent] = []
        """Every envelope appended through this store (this transaction), in order."""

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[CloudEvent],
        *,
        data_subject: str | None = None,
    ) -> Sequence[CloudEvent]:
        """Append events after `expected_version` and queue them in the outbox; returns them
        as appended: carrying the trace context when tracing is on (`shared.infra.tracing`).

        The unique (stream, version) constraint turns a lost race into ConcurrencyConflict.
        `data_subject` is the official the stream is about: their key seals personal data.
        """
        if not events:
            return events
        if not tracing.enabled():
            await self._append(stream_id, expected_version, events, data_subject)
            return events
        attributes: dict[str, str | int] = {
            "secondment.stream_id": stream_id,
            "secondment.events": len(events),
        }
        with tracing.span("event store append", attributes):
            stamped = tracing.stamped(events)
            await self._append(stream_id, expected_version, stamped, data_subject)
        return stamped

    async def _append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[CloudEvent],
        data_subject: str | None,
    ) -> None:
        rows = []
        outbox_rows = []
        for offset, envelope in enumerate(events, start=1):
            if envelope.aggregateversion != expected_version + offset:
                raise ValueError("envelope versions must follow the expected version")
            stored = await self._codec.seal(envelope, data_subject) if self._codec else envelope
            payload = stored.to_json().decode()
            rows.append(
                {
                    "stream_id": stream_id,
                    "version": envelope.aggregateversion,
                    "event_id": str(envelope.id),
                    "event_type": envelope.type,
                    "envelope": payload,
                    "recorded_at": envelope.time,
                }
            )
            outbox_rows.append(
                {
                    "event_id": str(envelope.id),
                    "topic": topic_name(TOPIC_OF_EVENT[envelope.type], self._prefix),
                    "key": envelope.subject,
                    "payload": payload,
                    "created_at": envelope.time,
                }
            )
        try:
            await self._inserts.rows(self._t.events, rows)
        except IntegrityError as exc:
            raise ConcurrencyConflict(stream_id, expected_version) from exc
        await self._inserts.rows(self._t.outbox, outbox_rows)
        self.appended.extend(events)

    async def load_many(self, stream_ids: Sequence[str]) -> dict[str, list[CloudEvent]]:
        """`load` for several streams, one statement per `LOAD_CHUNK` of them (a fetch's
        events touching many needs loaded them a statement each: docs/performance.md)."""
        t = self._t.events
        loaded: dict[str, list[CloudEvent]] = {s: [] for s in stream_ids}
        ids = list(loaded)
        for start in range(0, len(ids), LOAD_CHUNK):
            result = await self._session.execute(
                select(t.c.stream_id, t.c.envelope)
                .where(t.c.stream_id.in_(ids[start : start + LOAD_CHUNK]))
                .order_by(t.c.stream_id, t.c.version)
            )
            for stream_id, raw in result:
                loaded[stream_id].append(CloudEvent.from_json(raw))
        return {stream_id: await self._opened(stored) for stream_id, stored in loaded.items()}

    async def load(self, stream_id: str) -> list[CloudEvent]:
        """Every event of one stream, in version order, as stored (each in the `dataversion`
        it was written in: `read_event` brings its data to the current version)."""
        result = await self._session.execute(
            select(self._t.events.c.envelope)
            .where(self._t.events.c.stream_id == stream_id)
            .order_by(self._t.events.c.version)
        )
        return await self._opened([CloudEvent.from_json(raw) for raw in result.scalars()])

    async def _opened(self, stored: list[CloudEvent]) -> list[CloudEvent]:
        """The events with their personal data opened (as stored where there is no codec)."""
        if self._codec is None:
            return stored
        return [await self._codec.open(e) for e in stored]


A = TypeVar("A", bound=Aggregate)


class AggregateRepository(Generic[A]):
    """Loads aggregates from their streams and saves their new events as envelopes."""

    def __init__(
        self,
        store: EventStore,
        factory: Callable[[Sequence[EventData]], A],
        *,
        source: str,
        upcasters: UpcasterRegistry = UPCASTERS,
    ) -> None:
        self._store = store
        self._factory = factory
        self._source = source
        self._upcasters = upcasters

    async def get(self, stream_id: str) -> A | None:
        """The aggregate rebuilt from its history (older event versions upcast to the current
        ones), or None when the stream is empty."""
        return self._rebuilt(await self._store.load(stream_id))

    async def get_many(self, stream_ids: Sequence[str]) -> dict[str, A | None]:
        """`get` for several streams, their events read in one statement."""
        loaded = await self._store.load_many(stream_ids)
        return {stream_id: self._rebuilt(envelopes) for stream_id, envelopes in loaded.items()}

    def _rebuilt(self, envelopes: Sequence[CloudEvent]) -> A | None:
        if not envelopes:
            return None
        return self._factory([read_event(e, self._upcasters) for e in envelopes])

    async def history(self, stream_id: str) -> list[CloudEvent]:
        """The stream's envelopes, in version order."""
        return await self._store.load(stream_id)

    async def save(self, aggregate: A, ctx: RequestContext) -> list[CloudEvent]:
        """Append the aggregate's pending events; returns their envelopes."""
        start, envelopes = pending_envelopes(aggregate, self._source, ctx)
        stored = await self._store.append(
            aggregate.stream_id, start, envelopes, data_subject=aggregate.data_subject
        )
        return list(stored)
