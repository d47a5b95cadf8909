"""HTTP API of the locality secondment plans (`/api/plans`), served by the placement service:
adopt, amend (each amendment a decision of its own), read with the whole history."""

from uuid import UUID

from fastapi import APIRouter

from services.placement.domain.plan import AdoptPlan, AmendPlan
from services.placement.service_layer import plans
from services.placement.service_layer.plans import PlanView
from services.placement.service_layer.ports import PlanPorts
from shared.authz import Action
from shared.http.audit import audited
from shared.http.auth import PrincipalDep
from shared.http.context import ContextDep
from shared.http.problems import PROBLEM_RESPONSES


def build_plans_router(ports: PlanPorts) -> APIRouter:
    """Routes bound to one running placement service."""
    router = APIRouter(prefix="/api/plans", tags=["plans"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=PlanView)
    @audited(Action.ADOPT_SECONDMENT_PLAN)
    async def adopt_plan(cmd: AdoptPlan, ctx: ContextDep, who: PrincipalDep) -> PlanView:
        """Adopt a mountainous locality's secondment plan for a phase, by decision: officials
        per year, optionally by sector. 201 with the plan; one plan per locality and phase
        (409 `PLAN_ALREADY_ADOPTED`: amend it)."""
        return await plans.adopt_plan(who, cmd, ports, ctx)

    @router.post("/{plan_id}/amendments", response_model=PlanView)
    @audited(Action.AMEND_SECONDMENT_PLAN)
    async def amend_plan(
        plan_id: UUID, cmd: AmendPlan, ctx: ContextDep, who: PrincipalDep
    ) -> PlanView:
        """Replace the plan's targets by a decision dated no earlier than the previous one;
        200 with the plan and its history."""
        return await plans.amend_plan(who, str(plan_id), cmd, ports, ctx)

    @router.get("/{plan_id}", response_model=PlanView)
    async def get_plan(plan_id: UUID, who: PrincipalDep) -> PlanView:
        """The plan as in force now, with every decision (`history`, oldest first)."""
        return await plans.get_plan(who, str(plan_id), ports)

    return router
