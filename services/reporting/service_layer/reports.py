"""Read side use cases: phase definitions, evaluations, comparisons and alerts."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from services.reporting.domain.evaluation import Evaluation, Filters, Rollup, counting_window
from services.reporting.service_layer.ports import ReportingPorts
from shared.clock import today
from shared.contract.rules import RuleCode
from shared.phases import Phase, phase_of
from shared.seedwork.errors import DomainError, found


def find_phase(ports: ReportingPorts, phase_id: str) -> Phase:
    """The configured phase, or a 404 problem naming it."""
    return found(next((p for p in ports.phases if p.phase_id == phase_id), None), "phase", phase_id)


async def phase_evaluation(
    ports: ReportingPorts,
    phase_id: str,
    as_of: dt.date | None,
    filters: Filters,
    rollup: Rollup = "none",
    *,
    sensitive: bool = False,
) -> Evaluation:
    """The evaluation of one phase as at the end of `as_of` (default: today in Viet Nam).

    `sensitive` (scope `reports:sensitive`) lifts the small-cell protection of ethnicity
    breakdowns; everyone else sees small counts suppressed.
    """
    phase = find_phase(ports, phase_id)
    return await ports.queries.evaluate(
        phase,
        as_of or today(),
        filters,
        rollup=rollup,
        threshold=1 if sensitive else ports.small_cell_threshold,
    )


class Comparison(BaseModel):
    """Several phases evaluated as of one date; `differences` = second − first."""

    as_of: dt.date
    phases: list[str]
    filters: Filters
    rollup: Rollup
    evaluations: dict[str, Evaluation]
    differences: dict[str, dict[str, float | int | None]] = Field(
        description="per block (`needs`, `secondments`, `outcomes`), second phase minus first"
    )
    years: dict[str, float | None] = Field(
        default_factory=dict,
        description="per phase, the length in years of its counting window as of `as_of` "
        "(null before the phase started): phases of different lengths compare per year",
    )
    per_year: dict[str, dict[str, dict[str, float | None]]] = Field(
        default_factory=dict,
        description="per phase and block, the flows (needs raised, withdrawn, filled, positions; "
        "secondments started, ended, completed, terminated early, officials) divided by "
        "`years`; stocks (open, active, overdue) and rates are not divided",
    )
    per_year_differences: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="per block, second phase's per-year figure minus first"
    )


def _difference(a: Any, b: Any) -> float | int | None:
    if a is None or b is None:
        return None
    value = b - a
    return round(value, 4) if isinstance(value, float) else value


FLOWS: dict[str, tuple[str, ...]] = {
    "needs": ("raised", "withdrawn", "filled", "positions_requested", "positions_filled"),
    "secondments": ("started", "ended", "completed", "terminated_early", "officials"),
}
"""Figures that accumulate with time, and so compare between phases of different lengths only
per year."""


def _years(phase: Phase, as_of: dt.date) -> float | None:
    window = counting_window(phase, as_of)
    if window is None:
        return None
    return round(((window[1] - window[0]).days + 1) / 365.25, 4)


def _per_year(e: Evaluation, years: float | None) -> dict[str, dict[str, float | None]]:
    blocks = {"needs": e.needs.model_dump(), "secondments": e.secondments.model_dump()}
    return {
        block: {k: round(blocks[block][k] / years, 2) if years else None for k in keys}
        for block, keys in FLOWS.items()
    }


def _outcomes(e: Evaluation) -> dict[str, Any]:
    return {
        "promotion_rate": e.promotion_rate,
        "promoted": e.promoted,
        "duration_mean": e.duration_days.mean,
        "duration_median": e.duration_days.median,
        "duration_max": e.duration_days.max,
    }


async def compare(
    ports: ReportingPorts,
    phase_ids: list[str],
    as_of: dt.date | None,
    filters: Filters,
    rollup: Rollup = "none",
    *,
    sensitive: bool = False,
) -> Comparison:
    """Two phases side by side as of the same date."""
    if len(phase_ids) != 2 or phase_ids[0] == phase_ids[1]:
        raise DomainError(
            RuleCode.INVALID_REQUEST,
            "phases must name two different phases, e.g. phases=2024-2025,2026-2030",
            phases=",".join(phase_ids),
        )
    day = as_of or today()
    evaluations = [
        await phase_evaluation(ports, p, day, filters, rollup, sensitive=sensitive)
        for p in phase_ids
    ]
    a, b = evaluations
    differences: dict[str, dict[str, float | int | None]] = {
        "needs": {k: _difference(v, getattr(b.needs, k)) for k, v in a.needs.model_dump().items()},
        "secondments": {
            k: _difference(v, getattr(b.secondments, k))
            for k, v in a.secondments.model_dump().items()
        },
        "outcomes": {k: _difference(v, _outcomes(b)[k]) for k, v in _outcomes(a).items()},
    }
    years = {p: _years(find_phase(ports, p), day) for p in phase_ids}
    per_year = {e.phase_id: _per_year(e, years[e.phase_id]) for e in evaluations}
    pa, pb = (per_year[p] for p in phase_ids)
    return Comparison(
        as_of=day,
        phases=phase_ids,
        filters=filters,
        rollup=rollup,
        evaluations={e.phase_id: e for e in evaluations},
        differences=differences,
        years=years,
        per_year=per_year,
        per_year_differences={
            block: {k: _difference(v, pb[block][k]) for k, v in pa[block].items()}
            for block in FLOWS
        },
    )


class SecondmentAlert(BaseModel):
    """An active secondment near or past its planned end."""

    secondment_id: str
    official_id: str
    home_unit: str
    host_unit: str
    sector: str
    start_date: dt.date
    planned_end_date: dt.date = Field(description="as extended by as_of")
    days: int = Field(description="days left (ending soon) or days overdue")


class EndedAlert(SecondmentAlert):
    """An ended secondment whose official's post after it is still not recorded."""

    ended_on: dt.date


class NeedAlert(BaseModel):
    """A need open for a long time."""

    need_id: str
    host_unit: str
    sector: str
    positions: int
    raised_on: dt.date
    days_open: int


class BehindPlanAlert(BaseModel):
    """A locality whose secondments lag its plan's pace (docs/reporting.md, Plans)."""

    phase_id: str
    home_unit: str
    plan_ids: list[str]
    planned: int = Field(description="officials planned over the phase")
    expected_to_date: int = Field(description="the plan's pace by as_of")
    seconded: int = Field(description="secondments started in the phase by as_of")
    shortfall: int = Field(description="expected_to_date − seconded")


class Alerts(BaseModel):
    """What needs attention as at the end of `as_of` (all phases)."""

    as_of: dt.date
    ending_within_days: int
    open_longer_than_days: int
    counts: dict[str, int]
    ending_soon: list[SecondmentAlert]
    overdue: list[SecondmentAlert]
    needs_open_long: list[NeedAlert]
    arrangement_within_days: int = Field(
        default=30, description="an ended secondment is listed after this many days"
    )
    ended_without_arrangement: list[EndedAlert] = Field(
        default_factory=list,
        description="ended that many days ago or more, no post arrangement recorded yet "
        "(`days`: days since the end)",
    )
    behind_plan: list[BehindPlanAlert] = Field(
        default_factory=list,
        description="localities of as_of's phase whose secondments started are below their "
        "plan's pace by as_of, largest shortfall first",
    )


async def alerts(ports: ReportingPorts, as_of: dt.date | None, limit: int = 100) -> Alerts:
    """Secondments ending within 30 days, overdue secondments, needs open 60 days or more."""
    day = as_of or today()
    found = await ports.queries.alerts(
        day,
        ending_within=ports.ending_within_days,
        open_longer_than=ports.open_longer_than_days,
        limit=limit,
        arrangement_within=ports.arrangement_within_days,
    )

    def secondment(r: dict[str, Any], days: int) -> SecondmentAlert:
        return SecondmentAlert(**r, days=days)

    behind = await behind_plan(ports, day)
    return Alerts(
        as_of=day,
        ending_within_days=ports.ending_within_days,
        open_longer_than_days=ports.open_longer_than_days,
        counts=found.counts | {"behind_plan": len(behind)},
        ending_soon=[secondment(r, (r["planned_end_date"] - day).days) for r in found.ending_soon],
        overdue=[secondment(r, (day - r["planned_end_date"]).days) for r in found.overdue],
        needs_open_long=[
            NeedAlert(**r, days_open=(day - r["raised_on"]).days) for r in found.open_needs
        ],
        arrangement_within_days=ports.arrangement_within_days,
        ended_without_arrangement=[
            EndedAlert(**r, days=(day - r["ended_on"]).days) for r in found.unarranged
        ],
        behind_plan=behind[:limit],
    )


async def behind_plan(ports: ReportingPorts, day: dt.date) -> list[BehindPlanAlert]:
    """The localities behind their plan's pace in the phase of `day` (none outside phases),
    each locality as planned (no roll-up)."""
    phase = phase_of(day, ports.phases)
    if phase is None:
        return []
    progress = await ports.queries.plans(phase, day, Filters(), rollup="none")
    found = [
        BehindPlanAlert(
            phase_id=phase.phase_id,
            home_unit=unit,
            plan_ids=row.plan_ids,
            planned=row.planned,
            expected_to_date=row.expected_to_date,
            seconded=row.seconded,
            shortfall=row.expected_to_date - row.seconded,
        )
        for unit, row in progress.localities.items()
        if row.behind_plan
    ]
    return sorted(found, key=lambda a: (-a.shortfall, a.home_unit))
