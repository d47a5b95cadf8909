"""HTTP API of the placement service (`/api/secondments`)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from services.placement.domain.commands import (
    ArrangePostSecondment,
    CancelSecondment,
    EndSecondment,
    ExtendSecondment,
    RecordReception,
    SecondOfficial,
)
from services.placement.domain.secondment import SecondmentStatus
from services.placement.service_layer import handlers
from services.placement.service_layer.ports import PlacementPorts
from services.placement.service_layer.views import SecondmentView
from shared.authz import Action
from shared.clock import today
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

    @router.post("/{secondment_id}/reception", response_model=SecondmentView)
    @audited(Action.RECORD_RECEPTION)
    async def reception(
        secondment_id: UUID, cmd: RecordReception, ctx: ContextDep, who: PrincipalDep
    ) -> SecondmentView:
        """The host received the official and assigned work."""
        return await handlers.record_reception(who, str(secondment_id), cmd, ports.uow(), ctx)

    @router.post("/{secondment_id}/extension", response_model=SecondmentView)
    @audited(Action.EXTEND_SECONDMENT)
    async def extension(
        secondment_id: UUID, cmd: ExtendSecondment, ctx: ContextDep, who: PrincipalDep
    ) -> SecondmentView:
        """Move the planned end later by decision, within the cap."""
        return await handlers.extend_secondment(
            who, str(secondment_id), cmd, ports.uow(), ctx, ports.phases
        )

    @router.post("/{secondment_id}/ending", response_model=SecondmentView)
    @audited(Action.END_SECONDMENT)
    async def ending(
        secondment_id: UUID, cmd: EndSecondment, ctx: ContextDep, who: PrincipalDep
    ) -> SecondmentView:
        """End the secondment by decision with the host's rating; `ENDED`."""
        return await handlers.end_secondment(who, str(secondment_id), cmd, ports.uow(), ctx)

    @router.post("/{secondment_id}/post-arrangement", response_model=SecondmentView)
    @audited(Action.ARRANGE_POST_SECONDMENT)
    async def post_arrangement(
        secondment_id: UUID, cmd: ArrangePostSecondment, ctx: ContextDep, who: PrincipalDep
    ) -> SecondmentView:
        """Record the official's post after the secondment."""
        return await handlers.arrange_post(who, str(secondment_id), cmd, ports.uow(), ctx)

    @router.post("/{secondment_id}/cancellation", response_model=SecondmentView)
    @audited(Action.CANCEL_SECONDMENT)
    async def cancellation(
        secondment_id: UUID, cmd: CancelSecondment, ctx: ContextDep, who: PrincipalDep
    ) -> SecondmentView:
        """Void a record entered by mistake: frees its position, leaves the reports."""
        return await handlers.cancel_secondment(
            who, str(secondment_id), cmd, ports.uow(), ctx, today()
        )

    return router
