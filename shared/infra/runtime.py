"""What every service runs on: its database engine, migrations and outbox relay."""

import logging
import zlib
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
        """Migrate, then start relaying."""
        await self.migrate()
        self.relay.start()

    async def stop(self) -> None:
        """Stop relaying and close connections."""
        await self.relay.stop()
        await self.engine.dispose()

    async def database_ready(self) -> bool:
        """True when the database answers."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
