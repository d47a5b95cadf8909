"""HTTP API of the needs service (`/api/needs`)."""

from uuid import UUID

from fastapi import APIRouter

from services.needs.domain.commands import RaiseNeed
from services.needs.domain.need import Need, NeedStatus
from services.needs.service_layer import handlers
from services.needs.service_layer.ports import NeedsPorts
from shared.clock import today
from shared.contract.events import NeedRaised
from shared.http.context import ContextDep


class NeedOut(NeedRaised):
    """A need as agencies see it."""

    status: NeedStatus
    positions_filled: int


def need_out(need: Need) -> NeedOut:
    """Response body of a need."""
    return NeedOut(
        **need.raised.model_dump(), status=need.status, positions_filled=need.positions_filled
    )


def build_router(ports: NeedsPorts) -> APIRouter:
    """Routes bound to one running needs service."""
    router = APIRouter(prefix="/api/needs", tags=["needs"])

    @router.post("", status_code=201, response_model=NeedOut)
    async def raise_need(cmd: RaiseNeed, ctx: ContextDep) -> NeedOut:
        """Raise a need; 201 with the need, `status` `OPEN`."""
        need = await handlers.raise_need(cmd, ports.uow(), ctx, today(), ports.phases)
        return need_out(need)

    @router.get("/{need_id}", response_model=NeedOut)
    async def get_need(need_id: UUID) -> NeedOut:
        """One need by id; 404 problem naming the id when unknown."""
        return need_out(await handlers.get_need(str(need_id), ports.uow()))

    return router
