"""The figures of the written phase review: the evaluation the dashboard shows and, when the
plan had a phase before this one, that phase's evaluation as of the same date (the comparison
of `compare`), so the report never counts anything its own way."""

import datetime as dt
from dataclasses import dataclass, field

from services.reporting.domain.evaluation import Evaluation, Filters, Rollup
from services.reporting.service_layer.ports import ReportingPorts
from services.reporting.service_layer.reports import compare, find_phase, phase_evaluation
from shared.clock import today
from shared.phases import Phase, phase_before


@dataclass(frozen=True)
class ReviewFigures:
    """Everything the phase-review report states, as the evaluation API answers it."""

    phase: Phase
    evaluation: Evaluation
    previous_phase: Phase | None = None
    previous: Evaluation | None = None
    """The phase before, as of the same date with the same filters and roll-up."""
    per_year: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    """Per phase id, `compare`'s flows per year (empty without a previous phase)."""


async def phase_review(
    ports: ReportingPorts,
    phase_id: str,
    as_of: dt.date | None,
    filters: Filters,
    rollup: Rollup = "none",
    *,
    sensitive: bool = False,
) -> ReviewFigures:
    """The review's figures: this phase's evaluation, and the previous phase beside it."""
    phase = find_phase(ports, phase_id)
    day = as_of or today()
    before = phase_before(phase, ports.phases)
    if before is None:
        ev = await phase_evaluation(ports, phase_id, day, filters, rollup, sensitive=sensitive)
        return ReviewFigures(phase=phase, evaluation=ev)
    both = await compare(
        ports, [before.phase_id, phase_id], day, filters, rollup, sensitive=sensitive
    )
    return ReviewFigures(
        phase=phase,
        evaluation=both.evaluations[phase_id],
        previous_phase=before,
        previous=both.evaluations[before.phase_id],
        per_year=both.per_year,
    )
