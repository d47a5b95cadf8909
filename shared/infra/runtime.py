"""What every service runs on: its database engine, migrations, outbox relay and, with an
audit store, the forwarder of its commands' audit entries."""

import logging
import zlib
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.infra.audit import AuditLog
from shared.infra.audit_outbox import AuditForwarder
from shared.infra.db import make_engine, make_sessions
from shared.infra.migrations import upgrade_when_reachable
from shared.infra.outbox import OutboxRelay, Publisher
from shared.infra.schema import CoreTables
from shared.infra.transport import Transport

log = logging.getLogger(__name__)


class ServiceRuntime:
    """Engine, sessions and relay of one service; created in bootstrap, never at import."""

    def __init__(
        self,
        *,
        name: str,
        database_url: str,
        migrations: Path,
        tables: CoreTables,
        publisher: Publisher,
        relay_poll_interval: float = 5.0,
        extra_migrations: Sequence[tuple[Path, str]] = (),
    ) -> None:
        self.name = name
        self._extra_migrations = extra_migrations
        self.engine = make_engine(database_url)
        self.sessions: async_sessionmaker[AsyncSession] = make_sessions(self.engine)
        self._migrations = migrations
        self._tables = tables
        self.audit_forwarder: AuditForwarder | None = None
        self.relay = OutboxRelay(
            self.sessions,
            tables,
            publisher,
            lock_key=zlib.crc32(f"outbox:{name}".encode()),
            poll_interval=relay_poll_interval,
        )

    @classmethod
    def for_service(
        cls,
        name: str,
        database_url: str,
        migrations: Path,
        tables: CoreTables,
        transport: Transport,
    ) -> "ServiceRuntime":
        """The runtime of the service `name`, relaying its outbox to `transport`."""
        return cls(
            name=name,
            database_url=database_url,
            migrations=migrations,
            tables=tables,
            publisher=transport.publisher(),
        )

    def forward_audit_to(self, audit: AuditLog) -> None:
        """Forward the audit entries this service's commands commit to `audit` (a service
        without an `audit_outbox` has its requests audited by the middleware alone)."""
        if self._tables.audit_outbox is not None:
            self.audit_forwarder = AuditForwarder(
                self.name, self.sessions, self._tables.audit_outbox, audit
            )

    def audit_table(self) -> Table | None:
        """Where this service's commands commit their audit entries, once a forwarder moves
        them to the store (`forward_audit_to`); None before, or without an audit store."""
        return self._tables.audit_outbox if self.audit_forwarder is not None else None

    def wake(self) -> None:
        """A commit queued rows: events or a reply for the relay, an audit entry."""
        self.relay.wake()
        if self.audit_forwarder is not None:
            self.audit_forwarder.wake()

    async def migrate(self, within: float = 60.0) -> None:
        """Bring the database to the newest revision (and any separate history it holds).
        A database that cannot be reached yet (starting, restarting) is waited for up to
        `within` seconds: a replica started during a restart comes up instead of exiting."""
        await upgrade_when_reachable(self.engine, self._migrations, within=within, name=self.name)
        for location, version_table in self._extra_migrations:
            await upgrade_when_reachable(
                self.engine, location, version_table, within=within, name=self.name
            )

    async def start(self) -> None:
        """Migrate, then start relaying (and forwarding audit entries)."""
        await self.migrate()
        self.relay.start()
        if self.audit_forwarder is not None:
            self.audit_forwarder.start()

    async def stop(self) -> None:
        """Stop forwarding (what is waiting first) and relaying, and close connections."""
        if self.audit_forwarder is not None:
            await self.audit_forwarder.stop()
        await self.relay.stop()
        await self.engine.dispose()

    async def database_ready(self) -> bool:
        """True when the database answers."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
