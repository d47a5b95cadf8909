"""The outbox relay: publishes committed outbox rows in commit order, marks them published
only after the transport acknowledged them, and is woken by commits (with a slow poll as a
safety net). After a crash it republishes what was not marked; consumers deduplicate.

On PostgreSQL, every commit that wrote outbox rows also sends `NOTIFY secondment_outbox`
(`shared/infra/uow.py`), and each relay LISTENs on a connection of its own: the replica that
holds the relay's turn is woken by commits made in any replica, not only by its own (without
it, up to one poll interval of delay).

Published rows are deleted once older than `retention` (checked at most every
`purge_interval`): the event store keeps every event, the outbox is only the way out, and
without the purge it would grow with a second copy of every event forever."""

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from opentelemetry.context import Context
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.infra import tracing
from shared.infra.schema import CoreTables

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    """One outbox row on its way out."""

    topic: str
    key: str
    payload: bytes
    context: Context | None = None
    """The relay's span of this message when tracing is on: publishers send it inside."""


class Publisher(Protocol):
    """Where the relay sends messages: Kafka, or the in-process bus."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Return only once every message is durably accepted; raise otherwise."""

    async def reset(self) -> None:
        """Drop and recreate the connection after failures (aiokafka issue 1017)."""


PURGE_CHUNK = 5000
STOP_WAIT = 10.0
"""Seconds `stop` waits for the batch in flight before cancelling it."""
OUTBOX_CHANNEL = "secondment_outbox"
"""PostgreSQL notification channel (per database: each service has its own)."""


class OutboxRelay:
    """Drains one service's outbox to a publisher."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tables: CoreTables,
        publisher: Publisher,
        *,
        lock_key: int,
        batch_size: int = 500,
        poll_interval: float = 5.0,
        max_backoff: float = 30.0,
        retention: dt.timedelta = dt.timedelta(days=7),
        purge_interval: float = 3600.0,
        linger: float = 0.0,
    ) -> None:
        self._sessions = sessions
        self._t = tables.outbox
        self._publisher = publisher
        self._lock_key = lock_key
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._retention = retention
        self._purge_interval = purge_interval
        self._last_purge = -purge_interval
        self.linger = linger
        """Seconds to wait after a wake-up before draining, so that the commits of that moment
        leave as one batch (and consumers handle them in one transaction) rather than one by one."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_signal = asyncio.Event()
        self.listening = asyncio.Event()
        """Set while the relay listens for other processes' commits (PostgreSQL)."""
        self.published = 0

    def wake(self) -> None:
        """Called after every commit that wrote outbox rows."""
        self._wake.set()

    def start(self) -> None:
        """Run in the background until `stop`."""
        if self._task is None:
            self._stopping = False
            self._stop_signal = asyncio.Event()  # of this start's event loop
            self._task = asyncio.create_task(self._run(), name="outbox-relay")
            self._listener = asyncio.create_task(self._listen(), name="outbox-listener")

    async def stop(self) -> None:
        """Stop after the batch in flight; unpublished rows stay for the next start.

        The relay finishes its batch rather than being cancelled inside a transaction (on
        SQLite a cancelled transaction can keep the file locked); only a batch stuck for
        `STOP_WAIT` seconds (a broker that does not answer) is cancelled."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._task is not None:
            self._stopping = True
            self._stop_signal.set()
            self._wake.set()
            try:
                async with asyncio.timeout(STOP_WAIT):
                    await self._task
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        self._task = self._listener = None

    async def _listen(self) -> None:
        """PostgreSQL: wake on every commit that wrote outbox rows, in any process; reconnect
        when the connection drops (the poll covers the gap)."""
        engine = self._sessions.kw.get("bind")
        if engine is None or engine.dialect.name != "postgresql":
            return
        backoff = 1.0
        while True:
            try:
                async with engine.connect() as conn:
                    driver: Any = (await conn.get_raw_connection()).driver_connection
                    closed = asyncio.Event()
                    driver.add_termination_listener(functools.partial(_set, closed))
                    await driver.add_listener(OUTBOX_CHANNEL, self._notified)
                    try:
                        self.listening.set()
                        self._wake.set()  # whatever committed while we were not listening
                        backoff = 1.0
                        await closed.wait()
                    finally:
                        self.listening.clear()
                        if not driver.is_closed():  # the connection goes back to the pool
                            with contextlib.suppress(Exception):
                                await driver.remove_listener(OUTBOX_CHANNEL, self._notified)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.listening.clear()
                log.warning(
                    "outbox: cannot listen for commits; retrying in %.0fs", backoff, exc_info=True
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            self._wake.clear()
            try:
                await self.drain()
                backoff = 0.1
                if time.monotonic() - self._last_purge >= self._purge_interval:
                    self._last_purge = time.monotonic()
                    await self.purge()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await self._publisher.reset()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff):
                        await self._stop_signal.wait()  # `stop` ends the wait early
                backoff = min(backoff * 2, self._max_backoff)
                continue
            await woken(self._wake, self._poll_interval, self.linger)

    async def drain(self) -> int:
        """Publish everything unpublished now; returns how many rows were published."""
        total = 0
        while True:
            count = await self._publish_batch()
            total += count
            if count < self._batch_size:
                return total

    async def purge(self, now: dt.datetime | None = None) -> int:
        """Delete rows published more than `retention` ago, a chunk per transaction so the
        relay's and the writers' locks wait little; returns how many were deleted."""
        cutoff = (now or dt.datetime.now(dt.UTC)) - self._retention
        t, total = self._t, 0
        while True:
            chunk = (
                select(t.c.position)
                .where(t.c.published_at.is_not(None), t.c.published_at < cutoff)
                .order_by(t.c.position)
                .limit(PURGE_CHUNK)
            )
            async with self._sessions() as session, session.begin():
                result = await session.execute(delete(t).where(t.c.position.in_(chunk)))
            deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
            total += deleted
            if deleted < PURGE_CHUNK:
                if total:
                    log.info("outbox: %d published rows older than %s deleted", total, cutoff)
                return total

    async def _publish_batch(self) -> int:
        async with self._sessions() as session:
            await session.begin()
            on_postgres = session.bind.dialect.name == "postgresql"
            if on_postgres:
                # One relay per service at a time keeps per-key order across replicas; the
                # transaction (and the lock) lasts until the rows are marked.
                got = await session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": self._lock_key}
                )
                if not got:
                    await session.rollback()
                    return 0
            rows = (
                await session.execute(
                    select(self._t.c.position, self._t.c.topic, self._t.c.key, self._t.c.payload)
                    .where(self._t.c.published_at.is_(None))
                    .order_by(self._t.c.position)
                    .limit(self._batch_size)
                )
            ).all()
            if not on_postgres:
                # SQLite has one writer lock per file: release it before in-process
                # subscribers (which may write back to this service) run.
                await session.commit()
            if not rows:
                return 0
            positions = [r.position for r in rows]
            messages = [OutgoingMessage(r.topic, r.key, r.payload.encode()) for r in rows]
            try:
                with tracing.relaying(messages) as contexts:
                    if contexts is not None:
                        messages = [
                            replace(m, context=c) for m, c in zip(messages, contexts, strict=True)
                        ]
                    await self._publisher.publish(messages)
            except Exception as exc:
                await session.rollback()
                await self._record_failure(positions, repr(exc))
                raise
            if not session.in_transaction():
                await session.begin()
            await session.execute(
                update(self._t)
                .where(self._t.c.position.in_(positions))
                .values(published_at=dt.datetime.now(dt.UTC))
            )
            await session.commit()
        self.published += len(rows)
        return len(rows)

    async def _record_failure(self, positions: list[int], error: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(self._t)
                .where(self._t.c.position.in_(positions))
                .values(attempts=self._t.c.attempts + 1, last_error=error[:2000])
            )

    async def backlog(self) -> tuple[int, dt.datetime | None]:
        """Rows not yet published and when the oldest of them was written (for `/metrics`:
        one query per scrape, on the unpublished rows' index, never on a command's path)."""
        t = self._t
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(t.c.created_at)).where(t.c.published_at.is_(None))
                )
            ).one()
        return int(row[0] or 0), row[1]

    async def pending(self) -> int:
        """Rows not yet published (for readiness and tests)."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(self._t).where(self._t.c.published_at.is_(None))
            )
            return int(count or 0)


async def woken(wake: asyncio.Event, poll: float, linger: float) -> None:
    """Wait for `wake` (at most `poll` seconds: the safety net), then `linger` seconds so that
    the commits of that moment leave together. asyncio.timeout, not wait_for: on Python 3.11
    wait_for swallows a cancellation that arrives as the wake-up completes."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(poll):
            await wake.wait()
            if linger > 0:
                await asyncio.sleep(linger)


def _set(event: asyncio.Event, *_: object) -> None:
    event.set()
