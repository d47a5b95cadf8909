"""Where a rebuild reads every event from (Kafka from offset 0, or the services' event
stores in the embedded default), and the table operations of the swap.

A source yields batches up to the end it sees when asked (`batches()`), and can be asked
again for what arrived since; the rebuild asks once more after it locked the live tables, so
the swapped-in tables hold at least every event the live projection had applied.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError
from sqlalchemy import MetaData, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting.adapters.tables import (
    BASE_NAMES,
    ReadModels,
    define_read_models,
    rm_changes,
    rm_revision,
)
from services.reporting.adapters.writer import copy_fresh, write_on
from services.reporting.service_layer.changes import Changes
from services.reporting.service_layer.ports import EventSource
from shared.contract.envelope import CloudEvent
from shared.infra.db import make_engine, make_sessions
from shared.infra.kafka_auth import NO_AUTH, KafkaAuth
from shared.infra.schema import define_core_tables

NEXT = "__next"
OLD = "__old"


def decoded(raw: Iterable[bytes | str], source: EventSource) -> list[CloudEvent]:
    """The envelopes among some messages; the others are counted in `source.skipped`."""
    out = []
    for message in raw:
        try:
            out.append(CloudEvent.from_json(message))
        except ValidationError:
            source.skipped += 1
    return out


class KafkaSource:
    """Both topics read from offset 0 by a consumer without a group (it commits nothing)."""

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        batch: int = 5000,
        auth: KafkaAuth = NO_AUTH,
    ) -> None:
        self._bootstrap = bootstrap
        self._auth = auth
        self._topics = list(topics)
        self._batch = batch
        self._consumer: AIOKafkaConsumer | None = None
        self.skipped = 0

    async def _start(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                enable_auto_commit=False,
                isolation_level="read_committed",
                max_poll_records=self._batch,
                fetch_max_bytes=64 * 1024 * 1024,
                max_partition_fetch_bytes=16 * 1024 * 1024,
                **self._auth.client_options(),
            )
            await consumer.start()
            # `topics()` does not refresh the consumer's own metadata: ask the cluster.
            cluster = await consumer._client.fetch_all_metadata()
            partitions = [
                TopicPartition(t, p)
                for t in self._topics
                for p in sorted(cluster.partitions_for_topic(t) or ())
            ]
            if not partitions:
                await consumer.stop()
                raise LookupError(f"no partitions for {self._topics}")
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            self._consumer = consumer
        return self._consumer

    async def total(self) -> int:
        consumer = await self._start()
        ends = await consumer.end_offsets(list(consumer.assignment()))
        begins = await consumer.beginning_offsets(list(consumer.assignment()))
        return sum(ends[tp] - begins[tp] for tp in ends)

    async def batches(self) -> AsyncIterator[list[CloudEvent]]:
        consumer = await self._start()
        ends = await consumer.end_offsets(list(consumer.assignment()))

        async def behind() -> bool:
            for tp, end in ends.items():
                if await consumer.position(tp) < end:
                    return True
            return False

        while await behind():
            fetched = await consumer.getmany(timeout_ms=1000, max_records=self._batch)
            batch = decoded(
                (r.value for records in fetched.values() for r in records if r.value is not None),
                self,
            )
            if batch:
                yield batch

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class EventStoreSource:
    """The embedded default: the needs and placement services' own event stores (SQLite)."""

    def __init__(self, urls: Sequence[str], batch: int = 5000) -> None:
        self._engines = [make_engine(u) for u in urls]
        self._events = define_core_tables(MetaData()).events
        self._positions = [0 for _ in urls]
        self._batch = batch
        self.skipped = 0

    async def total(self) -> int:
        count = 0
        for engine in self._engines:
            async with engine.connect() as conn:
                count += int(await conn.scalar(select(func.count()).select_from(self._events)) or 0)
        return count

    async def batches(self) -> AsyncIterator[list[CloudEvent]]:
        e = self._events
        for i, engine in enumerate(self._engines):
            while True:
                async with engine.connect() as conn:
                    rows = (
                        await conn.execute(
                            select(e.c.position, e.c.envelope)
                            .where(e.c.position > self._positions[i])
                            .order_by(e.c.position)
                            .limit(self._batch)
                        )
                    ).all()
                if not rows:
                    break
                self._positions[i] = rows[-1].position
                yield decoded((r.envelope for r in rows), self)

    async def close(self) -> None:
        for engine in self._engines:
            await engine.dispose()


def next_generation() -> ReadModels:
    """Fresh `rm_…__next` tables with uniquely named constraints and indexes."""
    return define_read_models(MetaData(), NEXT, uuid.uuid4().hex[:8])


async def create_fresh(engine: AsyncEngine, models: ReadModels) -> None:
    """Drop leftovers of an interrupted rebuild, then create the new generation's tables."""
    async with engine.begin() as conn:
        for name in BASE_NAMES:
            await conn.execute(text(f'DROP TABLE IF EXISTS "{name}{NEXT}"'))
            await conn.execute(text(f'DROP TABLE IF EXISTS "{name}{OLD}"'))
        for table in models.all():
            await conn.run_sync(table.create)


async def lock_live(conn: AsyncConnection) -> None:
    """Hold off the live projection (and, for an instant, readers) until the swap commits.

    PostgreSQL: ACCESS EXCLUSIVE on the live tables (a projection transaction in flight
    finishes first). SQLite: the connection already holds the write lock (`BEGIN IMMEDIATE`)."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(f'"{n}"' for n in BASE_NAMES)
        await conn.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))


async def swap(conn: AsyncConnection) -> None:
    """In the caller's transaction: live → __old, __next → live, drop __old."""
    for name in BASE_NAMES:
        await conn.execute(text(f'ALTER TABLE "{name}" RENAME TO "{name}{OLD}"'))
        await conn.execute(text(f'ALTER TABLE "{name}{NEXT}" RENAME TO "{name}"'))
    # Readers holding the old generation in memory reload it whole (adapters/snapshot.py).
    await conn.execute(
        update(rm_revision)
        .where(rm_revision.c.id == 1)
        .values(revision=rm_revision.c.revision + 1, generation=uuid.uuid4().hex)
    )
    await conn.execute(delete(rm_changes))
    for name in BASE_NAMES:
        await conn.execute(text(f'DROP TABLE "{name}{OLD}"'))
        if conn.dialect.name == "postgresql":
            # Fresh tables have no statistics yet: plan the evaluations well from the start.
            await conn.execute(text(f'ANALYZE "{name}"'))


class SqlFreshReadModels:
    """`service_layer.ports.FreshReadModels` as `rm_…__next` tables beside the live ones: the
    first write fills the empty tables by COPY (PostgreSQL), the next ones merge; the swap
    renames them live in one transaction holding the live tables' lock."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = make_sessions(engine)
        self._models = next_generation()
        self._empty = True

    async def create(self) -> None:
        await create_fresh(self._engine, self._models)
        self._empty = True

    async def write(self, changes: Changes) -> None:
        async with self._sessions() as session, session.begin():
            conn = await session.connection()
            if self._empty:
                await copy_fresh(conn, self._models, changes)
            else:
                await write_on(conn, self._models, changes)
        self._empty = False

    @contextlib.asynccontextmanager
    async def swap_in(self) -> AsyncIterator["_Swap"]:
        async with self._sessions() as session, session.begin():
            conn = await session.connection()
            await lock_live(conn)
            yield _Swap(conn, self._models)
            await swap(conn)


class _Swap:
    def __init__(self, conn: AsyncConnection, models: ReadModels) -> None:
        self._conn = conn
        self._models = models

    async def write(self, changes: Changes) -> None:
        await write_on(self._conn, self._models, changes)
