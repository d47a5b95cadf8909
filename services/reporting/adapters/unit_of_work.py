"""Unit of work of the reporting service: the read models and the processed-event table."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.adapters.tables import core, rm_needs, rm_secondments
from shared.infra.uow import SqlUnitOfWork


class ReportingUnitOfWork(SqlUnitOfWork):
    """Upserts into the read models, in the transaction that records the event id."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(sessions, core, topic_prefix="", on_commit=on_commit)

    async def _insert_if_absent(self, table: Table, key: str, values: dict[str, Any]) -> None:
        exists = await self.session.scalar(
            table.select().with_only_columns(table.c[key]).where(table.c[key] == values[key])
        )
        if exists is None:
            await self.session.execute(insert(table).values(**values))

    async def _update(self, table: Table, key: str, ident: str, values: dict[str, Any]) -> None:
        await self.session.execute(update(table).where(table.c[key] == ident).values(**values))

    async def add_need(self, values: dict[str, Any]) -> None:
        """A raised need (once)."""
        await self._insert_if_absent(rm_needs, "need_id", values)

    async def update_need(self, need_id: str, values: dict[str, Any]) -> None:
        """Record a later fact about a need."""
        await self._update(rm_needs, "need_id", need_id, values)

    async def add_secondment(self, values: dict[str, Any]) -> None:
        """A started secondment (once)."""
        await self._insert_if_absent(rm_secondments, "secondment_id", values)

    async def update_secondment(self, secondment_id: str, values: dict[str, Any]) -> None:
        """Record a later fact about a secondment."""
        await self._update(rm_secondments, "secondment_id", secondment_id, values)
