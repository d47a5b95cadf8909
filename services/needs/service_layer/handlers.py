"""Use cases of the needs service: one small function per command or consumed event."""

import datetime as dt
from collections.abc import Sequence

from services.needs.adapters.unit_of_work import NeedsUnitOfWork
from services.needs.domain.commands import RaiseNeed
from services.needs.domain.need import Need
from shared.contract.envelope import CloudEvent
from shared.contract.events import OfficerSeconded
from shared.infra.eventstore import RequestContext
from shared.phases import Phase
from shared.seedwork.errors import NotFound

CONSUMER = "needs.placements"
"""Name under which this service records the placement events it processed."""


async def raise_need(
    cmd: RaiseNeed,
    uow: NeedsUnitOfWork,
    ctx: RequestContext,
    today: dt.date,
    phases: Sequence[Phase],
) -> Need:
    """Raise a need; its `NeedRaised` leaves through the outbox."""
    need = Need.raise_need(cmd, today, phases)
    async with uow:
        await uow.needs.save(need, ctx)
        await uow.commit()
    return need


async def get_need(need_id: str, uow: NeedsUnitOfWork) -> Need:
    """The need as it stands now."""
    async with uow:
        need = await uow.get_need(need_id)
    if need is None:
        raise NotFound("need", need_id)
    return need


async def on_officer_seconded(envelope: CloudEvent, uow: NeedsUnitOfWork) -> None:
    """Count the position as filled; emit `NeedFilled` when the last one is taken."""
    event = OfficerSeconded.model_validate(envelope.data)
    async with uow:
        if not await uow.claim(CONSUMER, envelope):
            return
        need_id = str(event.need_id)
        await uow.add_fill(need_id, str(event.secondment_id), event.decision.date)
        need = await uow.needs.get(need_id)
        if need is not None:
            need.record_filled_positions(await uow.filled_positions(need_id), event.decision.date)
            ctx = RequestContext(
                actor="needs",
                correlation_id=envelope.correlationid,
                causation_id=str(envelope.id),
                now=dt.datetime.now(dt.UTC),
            )
            await uow.needs.save(need, ctx)
        await uow.commit()
