"""HTTP API of the placement service (`/api/secondments`)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.placement.domain.commands import SecondOfficial
from services.placement.domain.secondment import SecondmentStatus
from services.placement.entrypoints.transitions import Transition, transitions
from services.placement.service_layer import handlers
from services.placement.service_layer.ports import PlacementPorts
from services.placement.service_layer.views import SecondmentView
from shared.authz import Action
from shared.contract.envelope import CloudEvent
from shared.http.audit import audited
from shared.http.auth import PrincipalDep
from shared.http.context import ContextDep
from shared.http.problems import PROBLEM_RESPONSES
from shared.infra.audit_entries import Category
from shared.seedwork.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page


def build_router(ports: PlacementPorts) -> APIRouter:
    """Routes bound to one running placement service."""
    router = APIRouter(prefix="/api/secondments", tags=["secondments"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=SecondmentView)
    @audited(Action.SECOND_OFFICIAL)
    async def second_official(
        cmd: SecondOfficial, ctx: ContextDep, who: PrincipalDep
    ) -> SecondmentView:
        """Second an eligible official to a need; 201 with the secondment, `ACTIVE`."""
        return await handlers.second_official(
            who, cmd, ports.uow(), ctx, ports.phases, ports.needs_caught_up, ports.intake
        )

    @router.get("", response_model=Page[SecondmentView])
    @audited(Action.READ_SECONDMENT, Category.PERSONAL_DATA)
    async def list_secondments(
        who: PrincipalDep,
        official_id: str | None = None,
        status: SecondmentStatus | None = None,
        home_unit: str | None = None,
        host_unit: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> Page[SecondmentView]:
        """Secondments, oldest first; follow `next_cursor` for more."""
        filters = {
            "official_id": official_id,
            "status": status.value if status else None,
            "home_unit": home_unit,
            "host_unit": host_unit,
        }
        return await handlers.list_secondments(
            who, ports.uow(), cursor=cursor, limit=limit, filters=filters
        )

    @router.get("/{secondment_id}", response_model=SecondmentView)
    @audited(Action.READ_SECONDMENT, Category.PERSONAL_DATA)
    async def get_secondment(secondment_id: UUID, who: PrincipalDep) -> SecondmentView:
        """One secondment by id."""
        return await handlers.get_secondment(who, str(secondment_id), ports.uow())

    @router.get("/{secondment_id}/history", response_model=list[CloudEvent])
    @audited(Action.READ_SECONDMENT, Category.PERSONAL_DATA)
    async def history(secondment_id: UUID, who: PrincipalDep) -> list[CloudEvent]:
        """The secondment's events as CloudEvents, in version order."""
        return await handlers.history(who, str(secondment_id), ports.uow())

    for transition in transitions(ports):
        _add_transition(router, transition)

    return router


def _add_transition(router: APIRouter, t: Transition) -> None:
    """`POST /{secondment_id}/<step>` with the command as body; 200 with the secondment. The
    route is written once for every step: its name, description and body model are the
    step's (FastAPI reads them from the endpoint, hence the three assignments)."""

    async def endpoint(
        secondment_id: UUID, cmd: BaseModel, ctx: ContextDep, who: PrincipalDep
    ) -> SecondmentView:
        return await t.run(who, str(secondment_id), cmd, ctx)

    endpoint.__name__ = endpoint.__qualname__ = t.step.replace("-", "_")
    endpoint.__doc__ = t.doc
    endpoint.__annotations__["cmd"] = t.command
    router.post(f"/{{secondment_id}}/{t.step}", response_model=SecondmentView)(
        audited(t.action)(endpoint)
    )
