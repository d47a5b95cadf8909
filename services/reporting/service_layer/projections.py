"""Projection of contract events into the read models: one function per event type.

Idempotent (the event id is claimed in the same transaction) and tolerant of cross-topic
order: needs and secondments are separate rows joined only at query time, so an
`OfficerSeconded` may land before the `NeedRaised` it refers to.
"""

from collections.abc import Awaitable, Callable

from services.reporting.adapters.unit_of_work import ReportingUnitOfWork
from shared.contract.envelope import CloudEvent
from shared.contract.events import (
    EventData,
    NeedFilled,
    NeedRaised,
    NeedWithdrawn,
    OfficerSeconded,
    SecondmentEnded,
    parse_data,
)

CONSUMER = "reporting.projections"


async def _need_raised(uow: ReportingUnitOfWork, e: NeedRaised, version: int) -> None:
    await uow.add_need(
        {
            "need_id": str(e.need_id),
            "host_unit": e.host_unit.code,
            "host_unit_name": e.host_unit.name,
            "sector": e.sector,
            "positions": e.positions,
            "raised_on": e.raised_on,
            "version": version,
        }
    )


async def _need_withdrawn(uow: ReportingUnitOfWork, e: NeedWithdrawn, version: int) -> None:
    await uow.update_need(str(e.need_id), {"withdrawn_on": e.withdrawn_on, "version": version})


async def _need_filled(uow: ReportingUnitOfWork, e: NeedFilled, version: int) -> None:
    await uow.update_need(str(e.need_id), {"filled_on": e.filled_on, "version": version})


async def _officer_seconded(uow: ReportingUnitOfWork, e: OfficerSeconded, version: int) -> None:
    await uow.add_secondment(
        {
            "secondment_id": str(e.secondment_id),
            "need_id": str(e.need_id),
            "official_id": e.official.official_id,
            "home_unit": e.official.home_unit.code,
            "home_unit_name": e.official.home_unit.name,
            "host_unit": e.host_unit.code,
            "host_unit_name": e.host_unit.name,
            "sector": e.sector,
            "ethnicity": e.official.ethnicity,
            "gender": e.official.gender,
            "start_date": e.start_date,
            "planned_end_date": e.planned_end_date,
            "version": version,
        }
    )


async def _secondment_ended(uow: ReportingUnitOfWork, e: SecondmentEnded, version: int) -> None:
    await uow.update_secondment(
        str(e.secondment_id),
        {"ended_on": e.ended_on, "end_reason": e.reason, "rating": e.rating, "version": version},
    )


Projector = Callable[[ReportingUnitOfWork, EventData, int], Awaitable[None]]

PROJECTORS: dict[type[EventData], Projector] = {
    NeedRaised: _need_raised,  # type: ignore[dict-item]
    NeedWithdrawn: _need_withdrawn,  # type: ignore[dict-item]
    NeedFilled: _need_filled,  # type: ignore[dict-item]
    OfficerSeconded: _officer_seconded,  # type: ignore[dict-item]
    SecondmentEnded: _secondment_ended,  # type: ignore[dict-item]
}


async def project(envelope: CloudEvent, uow: ReportingUnitOfWork) -> bool:
    """Apply one event once; returns False for a redelivery (nothing changed)."""
    event = parse_data(envelope.type, envelope.data)
    projector = PROJECTORS.get(type(event))
    async with uow:
        if not await uow.claim(CONSUMER, envelope):
            return False
        if projector is not None:
            await projector(uow, event, envelope.aggregateversion)
        await uow.commit()
    return True
