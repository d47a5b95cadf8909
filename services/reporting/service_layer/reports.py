"""Read side use cases: phase definitions and evaluations."""

import datetime as dt

from services.reporting.adapters.queries import evaluate
from services.reporting.domain.evaluation import Evaluation, Filters
from services.reporting.service_layer.ports import ReportingPorts
from shared.clock import today
from shared.seedwork.errors import NotFound


async def phase_evaluation(
    ports: ReportingPorts, phase_id: str, as_of: dt.date | None, filters: Filters
) -> Evaluation:
    """The evaluation of one phase as at the end of `as_of` (default: today in Viet Nam)."""
    phase = next((p for p in ports.phases if p.phase_id == phase_id), None)
    if phase is None:
        raise NotFound("phase", phase_id)
    async with ports.sessions() as session:
        return await evaluate(session, phase, as_of or today(), filters)
