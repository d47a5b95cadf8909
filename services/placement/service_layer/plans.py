"""Use cases of the locality secondment plans: adopt, amend, read with history.

They follow the secondments' commands exactly: the policy first (`shared.authz`), the rules
in the aggregate, the events, their outbox rows and the answer remembered for an
`Idempotency-Key` in one transaction (`uow.commit(answer=…)`).
"""

import datetime as dt

from pydantic import BaseModel, Field

from services.placement.domain.plan import AdoptPlan, AmendPlan, SecondmentPlan
from services.placement.service_layer.ports import PlanPorts, PlansUnitOfWork
from shared.authz import Action, Principal, authorize, may_read, plans_for_province
from shared.contract.envelope import CloudEvent, read_event
from shared.contract.events import PlanTarget, SecondmentPlanAdopted, SecondmentPlanAmended
from shared.contract.rules import RuleCode
from shared.contract.types import Decision, UnitRef
from shared.seedwork.errors import DomainError, NotFound, found
from shared.seedwork.ports import RequestContext


class PlanRevision(BaseModel):
    """One decision of the plan's history, oldest first."""

    event_id: str
    type: str = Field(examples=["SecondmentPlanAdopted", "SecondmentPlanAmended"])
    recorded_at: dt.datetime
    recorded_by: str = Field(description="the agency that recorded it (never the person)")
    decision: Decision
    targets: list[PlanTarget]
    reason: str | None = None


class PlanView(BaseModel):
    """A locality's plan as in force now (the latest decision), with every decision."""

    plan_id: str
    home_unit: UnitRef
    phase_id: str
    targets: list[PlanTarget]
    officials: int = Field(description="the targets' officials over the phase")
    decision: Decision = Field(description="the latest decision (adoption or amendment)")
    amendments: int
    history: list[PlanRevision]


def _revision(envelope: CloudEvent) -> PlanRevision:
    event = read_event(envelope)
    assert isinstance(event, SecondmentPlanAdopted | SecondmentPlanAmended)
    return PlanRevision(
        event_id=str(envelope.id),
        type=envelope.type,
        recorded_at=envelope.time,
        recorded_by=(envelope.actor or "").split("/")[0],
        decision=event.decision,
        targets=event.targets,
        reason=event.reason if isinstance(event, SecondmentPlanAmended) else None,
    )


def plan_view(plan: SecondmentPlan, history: list[CloudEvent]) -> PlanView:
    """The view of an aggregate and its stream."""
    return PlanView(
        plan_id=str(plan.plan_id),
        home_unit=plan.adopted.home_unit,
        phase_id=plan.adopted.phase_id,
        targets=plan.targets,
        officials=sum(t.officials for t in plan.targets),
        decision=plan.decision,
        amendments=len(history) - 1,
        history=[_revision(e) for e in history],
    )


async def _save(uow: PlansUnitOfWork, plan: SecondmentPlan, ctx: RequestContext) -> PlanView:
    """Append the new events, then answer with the whole history (remembered with them)."""
    await uow.plans.save(plan, ctx)
    view = plan_view(plan, await uow.plans.history(str(plan.plan_id)))
    await uow.commit(answer=view)
    return view


async def adopt_plan(
    principal: Principal, cmd: AdoptPlan, ports: PlanPorts, ctx: RequestContext
) -> PlanView:
    """Adopt a locality's plan for a phase: one per locality and phase (amend it after)."""
    authorize(principal, Action.ADOPT_SECONDMENT_PLAN, home=cmd.home_unit)
    plan = SecondmentPlan.adopt(cmd, ports.phases)
    uow = ports.uow()
    async with uow:
        existing = await uow.plan_of(plan.adopted.home_unit.code, plan.adopted.phase_id)
        if existing is not None:
            raise DomainError(
                RuleCode.PLAN_ALREADY_ADOPTED,
                f"{cmd.home_unit} already has plan {existing} for phase {cmd.phase_id}: "
                "amend it instead",
                plan_id=existing,
            )
        await uow.index_plan(plan)
        return await _save(uow, plan, ctx)


async def _load(uow: PlansUnitOfWork, plan_id: str) -> SecondmentPlan:
    return found(await uow.plans.get(plan_id), "plan", plan_id)


async def amend_plan(
    principal: Principal, plan_id: str, cmd: AmendPlan, ports: PlanPorts, ctx: RequestContext
) -> PlanView:
    """Replace the plan's targets by a later decision; the earlier ones stay in its history."""
    uow = ports.uow()
    async with uow:
        plan = await _load(uow, plan_id)
        authorize(principal, Action.AMEND_SECONDMENT_PLAN, home=plan.adopted.home_unit.code)
        plan.amend(cmd, ports.phases)
        return await _save(uow, plan, ctx)


async def get_plan(principal: Principal, plan_id: str, ports: PlanPorts) -> PlanView:
    """The plan with its history. A plan names no official: its locality, the Department of
    Home Affairs and report readers see it; to anyone else it does not exist (no leak)."""
    uow = ports.uow()
    async with uow:
        plan = await _load(uow, plan_id)
        history = await uow.plans.history(plan_id)
    home = plan.adopted.home_unit.code
    if not (may_read(principal, [home]) or plans_for_province(principal.agency)):
        raise NotFound("plan", plan_id)
    return plan_view(plan, history)
