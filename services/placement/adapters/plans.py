"""SQLAlchemy unit of work of the locality plans: the placement service's event store,
outbox and remembered answers, and the plans' index (one per locality and phase)."""

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from services.placement.adapters.tables import plans_index
from services.placement.domain.plan import SecondmentPlan
from shared.contract.rules import RuleCode
from shared.contract.topics import PLACEMENT_SOURCE
from shared.infra.eventstore import AggregateRepository
from shared.infra.uow import SqlUnitOfWork
from shared.seedwork.errors import DomainError


class SqlPlansUnitOfWork(SqlUnitOfWork):
    """`service_layer.ports.PlansUnitOfWork`. Plans name no official: nothing to seal."""

    plans: AggregateRepository[SecondmentPlan]

    def _started(self) -> None:
        self.plans = AggregateRepository(
            self.events, SecondmentPlan.rehydrate, source=PLACEMENT_SOURCE
        )

    async def plan_of(self, home_unit: str, phase_id: str) -> str | None:
        """The id of the locality's plan for the phase, if any."""
        found = await self.session.scalar(
            select(plans_index.c.plan_id).where(
                plans_index.c.home_unit == home_unit, plans_index.c.phase_id == phase_id
            )
        )
        return None if found is None else str(found)

    async def index_plan(self, plan: SecondmentPlan) -> None:
        """Record the new plan; a concurrent adoption for the same locality and phase that
        committed first makes this one PLAN_ALREADY_ADOPTED (in a savepoint, so the refusal
        leaves the transaction usable for remembering it)."""
        home, phase = plan.adopted.home_unit.code, plan.adopted.phase_id
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    insert(plans_index).values(
                        plan_id=str(plan.plan_id), home_unit=home, phase_id=phase
                    )
                )
        except IntegrityError:
            raise DomainError(
                RuleCode.PLAN_ALREADY_ADOPTED,
                f"{home} already has a plan for phase {phase}: amend it instead",
            ) from None
