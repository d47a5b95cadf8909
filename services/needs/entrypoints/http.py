"""HTTP API of the needs service (`/api/needs`)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from services.needs.domain.commands import AmendNeed, RaiseNeed, WithdrawNeed
from services.needs.domain.need import NeedStatus
from services.needs.service_layer import handlers
from services.needs.service_layer.ports import NeedsPorts
from services.needs.service_layer.views import NeedView
from shared.authz import Action
from shared.clock import today
from shared.http.audit import audited
from shared.http.auth import PrincipalDep
from shared.http.context import ContextDep
from shared.http.problems import problem_responses
from shared.seedwork.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page


def build_router(ports: NeedsPorts) -> APIRouter:
    """Routes bound to one running needs service."""
    router = APIRouter(
        prefix="/api/needs", tags=["needs"], responses=problem_responses(401, 403, 404, 409, 422)
    )

    @router.post("", status_code=201, response_model=NeedView)
    @audited(Action.RAISE_NEED)
    async def raise_need(cmd: RaiseNeed, ctx: ContextDep, who: PrincipalDep) -> NeedView:
        """Raise a need; 201 with the need, `status` `OPEN`."""
        return await handlers.raise_need(who, cmd, ports.uow(), ctx, today(), ports.phases)

    @router.get("", response_model=Page[NeedView])
    async def list_needs(
        who: PrincipalDep,
        status: NeedStatus | None = None,
        sector: str | None = None,
        host_unit: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> Page[NeedView]:
        """Needs, oldest first; follow `next_cursor` for more."""
        return await handlers.list_needs(
            who,
            ports.uow(),
            cursor=cursor,
            limit=limit,
            status=status.value if status else None,
            sector=sector,
            host_unit=host_unit,
        )

    @router.get("/{need_id}", response_model=NeedView)
    async def get_need(need_id: UUID, who: PrincipalDep) -> NeedView:
        """One need by id; 404 problem naming the id when unknown."""
        return await handlers.get_need(who, str(need_id), ports.uow())

    @router.patch("/{need_id}", response_model=NeedView)
    @audited(Action.AMEND_NEED)
    async def amend_need(
        need_id: UUID, cmd: AmendNeed, ctx: ContextDep, who: PrincipalDep
    ) -> NeedView:
        """Correct any field of the raise body while no position is filled."""
        return await handlers.amend_need(
            who, str(need_id), cmd, ports.uow(), ctx, today(), ports.phases
        )

    @router.post("/{need_id}/withdrawal", response_model=NeedView)
    @audited(Action.WITHDRAW_NEED)
    async def withdraw_need(
        need_id: UUID, cmd: WithdrawNeed, ctx: ContextDep, who: PrincipalDep
    ) -> NeedView:
        """Withdraw: free positions close, filled ones stay."""
        return await handlers.withdraw_need(who, str(need_id), cmd, ports.uow(), ctx, today())

    return router
