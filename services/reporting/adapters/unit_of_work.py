"""Unit of work of the reporting service: the read models and the processed-event table."""

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.adapters.tables import LIVE, core
from services.reporting.adapters.writer import write
from services.reporting.service_layer.changes import Changes
from shared.infra.uow import SqlUnitOfWork


class SqlReportingUnitOfWork(SqlUnitOfWork):
    """One transaction: the batch's claims and its upserts into the read models."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(sessions, core, topic_prefix="", on_commit=on_commit)

    async def apply(self, changes: Changes) -> None:
        """Merge a batch's folded rows into the live read models (`adapters/writer.py`)."""
        await write(self.session, LIVE, changes)
