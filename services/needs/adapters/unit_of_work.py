"""SQLAlchemy unit of work of the needs service."""

from collections.abc import Callable

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.needs.adapters.tables import core, need_fills
from services.needs.domain.need import Need
from shared.contract.topics import NEEDS_SOURCE
from shared.infra.eventstore import AggregateRepository
from shared.infra.uow import SqlUnitOfWork


class NeedsUnitOfWork(SqlUnitOfWork):
    """Needs repository and the filled-positions table, in one transaction."""

    needs: AggregateRepository[Need]

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        topic_prefix: str,
        on_commit: Callable[[], None],
    ) -> None:
        super().__init__(sessions, core, topic_prefix=topic_prefix, on_commit=on_commit)

    def _started(self) -> None:
        self.needs = AggregateRepository(self.events, Need.rehydrate, source=NEEDS_SOURCE)

    async def get_need(self, need_id: str) -> Need | None:
        """The need with its count of filled positions."""
        need = await self.needs.get(need_id)
        if need is not None:
            need.positions_filled = await self.filled_positions(need_id)
        return need

    async def add_fill(self, need_id: str, secondment_id: str, decided_on: object) -> None:
        """Remember a secondment to this need."""
        await self.session.execute(
            insert(need_fills).values(
                need_id=need_id, secondment_id=secondment_id, decided_on=decided_on
            )
        )

    async def filled_positions(self, need_id: str) -> int:
        """How many secondments hold a position of this need."""
        count = await self.session.scalar(
            select(func.count()).select_from(need_fills).where(need_fills.c.need_id == need_id)
        )
        return int(count or 0)
