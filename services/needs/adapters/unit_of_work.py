"""SQLAlchemy unit of work of the needs service."""

import datetime as dt
import json
from collections.abc import Callable, Sequence

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import BindParameter

from services.needs.adapters.tables import core, need_fills, needs_view
from services.needs.domain.need import Need
from shared.contract.topics import NEEDS_SOURCE
from shared.infra.eventstore import AggregateRepository
from shared.infra.uow import SqlUnitOfWork

_NEED_ID: BindParameter[str] = bindparam("b_need_id")
_NEED_IDS: BindParameter[str] = bindparam("b_need_ids", expanding=True)
_LOCK_NEEDS = (
    select(needs_view.c.need_id)
    .where(needs_view.c.need_id.in_(_NEED_IDS))
    .order_by(needs_view.c.need_id)
    .with_for_update()
)
_FILLS = select(need_fills.c.need_id, need_fills.c.secondment_id).where(
    need_fills.c.need_id.in_(_NEED_IDS)
)
_FILLED = select(func.count()).select_from(need_fills).where(need_fills.c.need_id == _NEED_ID)
"""Statements of the command and consumer paths, built once (SQLAlchemy then reuses their
compiled form)."""


class SqlNeedsUnitOfWork(SqlUnitOfWork):
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

    async def lock_needs(self, need_ids: Sequence[str]) -> None:
        """Hold the needs' rows until commit, so that two replicas counting their positions at
        once (a cancellation and another secondment, on different partitions) take turns: the
        second counts what the first committed. One statement, locking in the order given.
        (SQLite: `BEGIN IMMEDIATE` already serialises writers.)"""
        if need_ids:
            await self.session.execute(_LOCK_NEEDS, {"b_need_ids": list(need_ids)})

    async def fills(self, need_ids: Sequence[str]) -> dict[str, set[str]]:
        """The secondments holding a position of each need, in one statement."""
        taken: dict[str, set[str]] = {need_id: set() for need_id in need_ids}
        if need_ids:
            rows = await self.session.execute(_FILLS, {"b_need_ids": list(need_ids)})
            for need_id, secondment_id in rows:
                taken[need_id].add(secondment_id)
        return taken

    async def add_fill(self, need_id: str, secondment_id: str, decided_on: dt.date) -> None:
        """Remember a secondment to this need (held with the transaction's other rows)."""
        fill = {"need_id": need_id, "secondment_id": secondment_id, "decided_on": decided_on}
        await self.inserts.rows(need_fills, [fill])

    async def filled_positions(self, need_id: str) -> int:
        """How many secondments hold a position of this need."""
        count = await self.session.scalar(_FILLED, {"b_need_id": need_id})
        return int(count or 0)

    async def remove_fill(self, need_id: str, secondment_id: str) -> None:
        """A cancelled secondment gives its position back."""
        await self.session.execute(
            delete(need_fills).where(
                need_fills.c.need_id == need_id, need_fills.c.secondment_id == secondment_id
            )
        )

    async def write_view(self, need: Need, body: dict[str, object]) -> None:
        """Keep the need's list row in step with its events."""
        values = {
            "host_unit": need.raised.host_unit.code,
            "sector": need.raised.sector,
            "status": need.status.value,
            "body": json.dumps(body, ensure_ascii=False),
        }
        await self.write_row(needs_view, "need_id", need.stream_id, values)

    async def list_needs(
        self,
        *,
        after: int,
        limit: int,
        status: str | None,
        sector: str | None,
        host_unit: str | None,
        visible_hosts: frozenset[str] | None = None,
    ) -> list[tuple[int, dict[str, object]]]:
        """(position, body) of needs after a position, oldest first."""
        query = select(needs_view.c.position, needs_view.c.body).where(
            needs_view.c.position > after
        )
        for column, value in (
            (needs_view.c.status, status),
            (needs_view.c.sector, sector),
            (needs_view.c.host_unit, host_unit),
        ):
            if value:
                query = query.where(column == value)
        if visible_hosts is not None:
            query = query.where(needs_view.c.host_unit.in_(sorted(visible_hosts)))
        rows = await self.session.execute(query.order_by(needs_view.c.position).limit(limit))
        return [(r.position, json.loads(r.body)) for r in rows]
