"""Use cases of the placement service."""

from collections.abc import Sequence

from services.placement.adapters.unit_of_work import PlacementUnitOfWork
from services.placement.domain.commands import EndSecondment, SecondOfficial
from services.placement.domain.secondment import Secondment
from shared.contract.envelope import CloudEvent
from shared.contract.events import NeedFilled, NeedRaised, parse_data
from shared.contract.rules import RuleCode
from shared.infra.eventstore import RequestContext
from shared.phases import Phase
from shared.seedwork.errors import DomainError, NotFound

CONSUMER = "placement.needs"


async def second_official(
    cmd: SecondOfficial, uow: PlacementUnitOfWork, ctx: RequestContext, phases: Sequence[Phase]
) -> Secondment:
    """Decide a secondment: all rules, then a position taken atomically."""
    async with uow:
        need = await uow.need(str(cmd.need_id))
        if need is None:
            raise DomainError(
                RuleCode.NEED_NOT_YET_KNOWN,
                f"need {cmd.need_id} is not known here yet; retry shortly",
                need_id=str(cmd.need_id),
            )
        spells = await uow.spells(cmd.official.official_id)
        secondment = Secondment.second(cmd, need, spells, phases)
        if not await uow.take_position(need.need_id):
            raise DomainError(
                RuleCode.NEED_FULL,
                f"need {need.need_id} has no free position",
                need_id=need.need_id,
            )
        await uow.secondments.save(secondment, ctx)
        await uow.write_view(secondment)
        await uow.commit()
    return secondment


async def end_secondment(
    secondment_id: str, cmd: EndSecondment, uow: PlacementUnitOfWork, ctx: RequestContext
) -> Secondment:
    """End a secondment by decision."""
    async with uow:
        secondment = await uow.secondments.get(secondment_id)
        if secondment is None:
            raise NotFound("secondment", secondment_id)
        secondment.end(cmd)
        await uow.secondments.save(secondment, ctx)
        await uow.write_view(secondment)
        await uow.commit()
    return secondment


async def get_secondment(secondment_id: str, uow: PlacementUnitOfWork) -> Secondment:
    """The secondment as it stands."""
    async with uow:
        secondment = await uow.secondments.get(secondment_id)
    if secondment is None:
        raise NotFound("secondment", secondment_id)
    return secondment


async def on_need_event(envelope: CloudEvent, uow: PlacementUnitOfWork) -> None:
    """Keep the placement service's view of needs up to date, once per event."""
    event = parse_data(envelope.type, envelope.data)
    if not isinstance(event, NeedRaised | NeedFilled):
        return
    async with uow:
        if not await uow.claim(CONSUMER, envelope):
            return
        await uow.apply_need_event(envelope.aggregateversion, event)
        await uow.commit()
