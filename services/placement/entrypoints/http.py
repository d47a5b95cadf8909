"""HTTP API of the placement service (`/api/secondments`)."""

import datetime as dt
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from services.placement.domain.commands import EndSecondment, SecondOfficial
from services.placement.domain.secondment import Secondment, SecondmentStatus
from services.placement.service_layer import handlers
from services.placement.service_layer.ports import PlacementPorts
from shared.contract.events import Official, SecondmentEnded
from shared.contract.types import Code, Decision, UnitRef
from shared.http.context import ContextDep


class SecondmentOut(BaseModel):
    """A secondment as agencies see it."""

    secondment_id: UUID
    status: SecondmentStatus
    need_id: UUID
    official: Official
    host_unit: UnitRef
    sector: Code
    start_date: dt.date
    planned_end_date: dt.date
    decision: Decision
    ending: SecondmentEnded | None = None


def secondment_out(s: Secondment) -> SecondmentOut:
    """Response body of a secondment."""
    e = s.seconded
    return SecondmentOut(
        secondment_id=s.secondment_id,
        status=s.status,
        need_id=e.need_id,
        official=e.official,
        host_unit=e.host_unit,
        sector=e.sector,
        start_date=e.start_date,
        planned_end_date=s.planned_end_date,
        decision=e.decision,
        ending=s.ended,
    )


def build_router(ports: PlacementPorts) -> APIRouter:
    """Routes bound to one running placement service."""
    router = APIRouter(prefix="/api/secondments", tags=["secondments"])

    @router.post("", status_code=201, response_model=SecondmentOut)
    async def second_official(cmd: SecondOfficial, ctx: ContextDep) -> SecondmentOut:
        """Second an eligible official to a need; 201 with the secondment, `ACTIVE`."""
        return secondment_out(await handlers.second_official(cmd, ports.uow(), ctx, ports.phases))

    @router.get("/{secondment_id}", response_model=SecondmentOut)
    async def get_secondment(secondment_id: UUID) -> SecondmentOut:
        """One secondment by id."""
        return secondment_out(await handlers.get_secondment(str(secondment_id), ports.uow()))

    @router.post("/{secondment_id}/ending", response_model=SecondmentOut)
    async def end_secondment(
        secondment_id: UUID, cmd: EndSecondment, ctx: ContextDep
    ) -> SecondmentOut:
        """End the secondment by decision with the host's rating; 200, `ENDED`."""
        return secondment_out(
            await handlers.end_secondment(str(secondment_id), cmd, ports.uow(), ctx)
        )

    return router
