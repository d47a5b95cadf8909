"""Composition root of the reporting service."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from fastapi import APIRouter

from services.reporting.adapters.queries import SqlReportQueries
from services.reporting.adapters.snapshot import SnapshotCache
from services.reporting.adapters.tables import core
from services.reporting.adapters.unit_of_work import SqlReportingUnitOfWork
from services.reporting.config import ReportingSettings
from services.reporting.entrypoints.http import build_router
from services.reporting.entrypoints.throttle import LoginThrottle
from services.reporting.service_layer import projections
from services.reporting.service_layer.ports import ReportingPorts
from shared.contract.envelope import CloudEvent
from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC, topic_name
from shared.infra.metrics import EVENTS_PROJECTED
from shared.infra.runtime import ServiceRuntime
from shared.infra.transport import Transport, subscribe_events
from shared.phases import Phase

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


class ReportingService:
    """The running reporting service: projections and the read API."""

    def __init__(
        self,
        settings: ReportingSettings,
        transport: Transport,
        phases: Sequence[Phase] | None = None,
    ) -> None:
        self.settings = settings
        self._warming: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.codec = settings.personal_data_codec()
        self.transport = transport
        self.runtime = ServiceRuntime.for_service(
            "reporting", settings.database_url, MIGRATIONS, core, transport
        )
        self.sessions = self.runtime.sessions
        self.snapshots = SnapshotCache()
        """The read models in memory for evaluations (one copy per process)."""
        self.ports = ReportingPorts(
            uow=partial(SqlReportingUnitOfWork, self.runtime.sessions),
            queries=SqlReportQueries(self.sessions, self.snapshots),
            phases=tuple(phases) if phases is not None else settings.phases,
            small_cell_threshold=settings.small_cell_threshold,
        )
        self.login_throttle = LoginThrottle(
            settings.login_max_failures, settings.login_window_seconds
        )
        """Failed dashboard sign-ins of this process (one count for every app built here)."""
        for topic in (NEEDS_TOPIC, PLACEMENTS_TOPIC):
            subscribe_events(
                transport,
                topic_name(topic, settings.topic_prefix),
                settings.group,
                self.on_event,
                self.on_batch,
                max_records=settings.batch_max_records,
            )

    async def on_event(self, envelope: CloudEvent) -> None:
        """Project one event (idempotent), its personal data opened to the profile only."""
        await projections.project(await self.codec.open(envelope), self.ports.uow())
        EVENTS_PROJECTED.labels(self.runtime.name).inc()

    async def on_batch(self, envelopes: Sequence[CloudEvent]) -> None:
        """Project a batch of events in one transaction (idempotent)."""
        opened = [await self.codec.open(e) for e in envelopes]
        await projections.project_batch(opened, self.ports.uow())
        EVENTS_PROJECTED.labels(self.runtime.name).inc(len(opened))

    @property
    def routers(self) -> list[APIRouter]:
        """HTTP routes of this service."""
        return [build_router(self.ports, self.sessions, self.login_throttle)]

    async def migrate(self) -> None:
        """Bring the database to the newest revision."""
        await self.runtime.migrate()

    async def start(self) -> None:
        """Migrate, start the outbox relay, and load the read models into memory meanwhile."""
        await self.runtime.start()
        self._stopping = asyncio.Event()  # of this start's event loop
        self._warming = asyncio.create_task(self.keep_in_memory())

    async def keep_in_memory(self) -> None:
        """Read the read models into memory before the first evaluation asks, then catch up
        with the change log every `memory_refresh_seconds`, so that evaluations seldom wait for
        it; after a rebuild, and every `memory_reload_seconds`, read everything again aside.
        A failure only leaves the work to the next round or to the next evaluation."""
        interval = self.settings.memory_refresh_seconds
        reload_every = self.settings.memory_reload_seconds
        last_full = time.monotonic()
        while not self._stopping.is_set():
            try:
                # One session per step: none may hold a read transaction while waiting for the
                # copy's lock (on SQLite that would block writers, and them us).
                snapshots = self.snapshots
                due = reload_every > 0 and time.monotonic() - last_full >= reload_every
                async with self.sessions() as session:
                    changed = await snapshots.generation_changed(session)
                if due or changed:
                    # aside: evaluations meanwhile answer from the copy they have
                    last_full = time.monotonic()
                    async with self.sessions() as session:
                        await snapshots.reload_aside(session)
                async with self.sessions() as session:
                    await snapshots.current(session)
                last = self.snapshots.last
                if last.kind == "full":
                    log.info(
                        "read models in memory: %s secondments in %.2f s",
                        last.aggregates,
                        last.seconds,
                    )
            except Exception:
                log.warning("could not bring the read models in memory up to date", exc_info=True)
            if interval <= 0:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._stopping.wait()

    async def stop(self) -> None:
        """Stop the in-memory refresh, the relay, and close the database."""
        if self._warming is not None:
            # Let the round in flight finish rather than cancel it inside a transaction (a
            # cancelled SQLite transaction can keep its lock until the connection is collected).
            self._stopping.set()
            try:
                async with asyncio.timeout(30):
                    await self._warming
            except TimeoutError:
                self._warming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._warming
            self._warming = None
        await self.runtime.stop()

    async def ready(self) -> bool:
        """The database answers."""
        return await self.runtime.database_ready()
