"""The next-phase planner's use case: gathers what the domain's `propose` needs (the planned
phase's mountainous localities from the reference data, the previous phase's evaluation
rolled up to successors, the plans already adopted) and turns the proposal into the requests
that would record it as locality plans in the placement service, which owns them (ADR 0006):
reporting computes and answers, it never writes a plan (docs/reporting.md, "Planner")."""

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from services.reporting.domain.evaluation import Evaluation, Filters
from services.reporting.domain.planner import AreaHistory, Locality, Proposal, propose
from services.reporting.domain.planner import target_from_share as share_target
from services.reporting.service_layer.ports import ReportingPorts
from services.reporting.service_layer.reports import find_phase, phase_evaluation
from shared.clock import today
from shared.contract.rules import RuleCode
from shared.contract.types import Decision
from shared.phases import Phase, phase_before
from shared.reference import reference_data
from shared.seedwork.errors import DomainError

LOCALITY_KINDS = ("DISTRICT", "COMMUNE")
"""Units that second officials and adopt plans (reporting areas and departments never do)."""

Count = Annotated[int, Field(ge=0, le=100_000)]


class PlannerRequest(BaseModel):
    """What leadership sets: a target (officials, or a share of the eligible officials), the
    eligible officials per locality where known, bounds per locality and year, and the
    decision the plans would be adopted or amended by."""

    target_officials: int | None = Field(
        default=None, ge=0, le=10_000, description="more officials to second over the phase"
    )
    target_share: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="share of the eligible officials who should have served in a department "
        "by the phase's end; needs every locality's eligible officials",
    )
    eligible_officials: dict[str, Count] = Field(
        default_factory=dict,
        description="eligible officials per locality code (not in the reference data; "
        "without every locality's, each counts as one unit of capacity)",
    )
    min_per_year: int = Field(default=0, ge=0, le=1_000)
    max_per_year: int | None = Field(default=None, ge=0, le=1_000)
    as_of: dt.date | None = Field(
        default=None, description="the previous phase evaluated as at this date; default today"
    )
    decision: Decision | None = Field(
        default=None, description="the decision recording the plans; without it no requests"
    )
    reason: str | None = Field(
        default=None, max_length=2_000, description="an amendment's reason (plans in force)"
    )

    @model_validator(mode="after")
    def _one_target(self) -> "PlannerRequest":
        if (self.target_officials is None) == (self.target_share is None):
            raise ValueError("give exactly one of target_officials and target_share")
        if self.max_per_year is not None and self.max_per_year < self.min_per_year:
            raise ValueError("max_per_year is below min_per_year")
        return self


class Target(BaseModel):
    """The target as set and as counted."""

    basis: Literal["officials", "share"]
    officials: int = Field(description="officials to second over the phase")
    share: float | None
    eligible_total: int | None = Field(description="the localities' eligible officials")
    already_seconded: int | None = Field(
        description="officials seconded in the previous phase (share basis)"
    )


class PlanRequest(BaseModel):
    """One request to the placement service's plans API, ready to send with a `plans:write`
    token (the locality's, or the Department of Home Affairs')."""

    home_unit: str
    method: Literal["POST"] = "POST"
    path: str = Field(description="`/api/plans`, or the amendments of the plan in force")
    idempotency_key: str = Field(description="the same proposal and decision, the same key")
    body: dict[str, Any]


class PlannerAnswer(BaseModel):
    """The proposal with its assumptions, and the requests that would save it."""

    phase_id: str
    provisional: bool = Field(description="the planned phase awaits leadership's confirmation")
    based_on: str = Field(description="the previous phase, evaluated with roll-up")
    as_of: dt.date
    target: Target
    proposal: Proposal
    existing_plans: dict[str, list[str]] = Field(
        description="plan ids already adopted for the phase, per locality"
    )
    requests: list[PlanRequest] = Field(
        description="one per locality proposed more than 0 or with a plan (amended then); "
        "empty without a decision"
    )


def mountainous_during(code: str, phase: Phase) -> bool:
    """The unit is a locality (not a reporting area) mountainous on its first or last day
    within the phase (a dated change may make it mountainous part way)."""
    ref = reference_data()
    unit = ref.unit(code)
    if unit is None or unit.reporting_only or unit.kind not in LOCALITY_KINDS:
        return False
    return ref.mountainous_within(unit, phase.starts_on, phase.ends_on)


def _history(area: str, previous: Phase, ev: Evaluation) -> AreaHistory | None:
    group = ev.by_home_unit.get(area)
    if group is not None:
        s = group.secondments
        return AreaHistory(
            secondments=s.started, officials=s.officials, ended=s.ended, promoted=group.promoted
        )
    ref = reference_data()
    took_part = any(
        ref.rollup(u.code) == area and mountainous_during(u.code, previous) for u in ref.units()
    )
    return AreaHistory(secondments=0, officials=0, ended=0, promoted=0) if took_part else None


def _candidates(phase: Phase, named: list[str]) -> list[str]:
    ref = reference_data()
    for code in named:
        if ref.unit(code) is None:
            raise DomainError(RuleCode.UNKNOWN_CODE, f"no unit {code}", code=code)
    found = {
        u.code for u in ref.units() if not u.illustrative and mountainous_during(u.code, phase)
    }
    return sorted(found | set(named))


def _previous(ports: ReportingPorts, phase: Phase) -> Phase:
    before = phase_before(phase, ports.phases)
    if before is None:
        raise DomainError(
            RuleCode.INVALID_REQUEST,
            f"phase {phase.phase_id} has no phase before it to learn from",
            phase_id=phase.phase_id,
        )
    return before


def _requests(
    phase: Phase, proposal: Proposal, existing: dict[str, list[str]], cmd: PlannerRequest
) -> list[PlanRequest]:
    if cmd.decision is None:
        return []
    decision = cmd.decision.model_dump(mode="json", exclude_none=True)
    out = []
    for row in proposal.localities:
        plans = existing.get(row.home_unit, [])
        if row.total == 0 and not plans:
            continue
        targets = [{"year": c.year, "officials": c.officials} for c in row.years]
        if plans:
            path = f"/api/plans/{plans[0]}/amendments"
            body: dict[str, Any] = {"targets": targets, "decision": decision}
            if cmd.reason:
                body["reason"] = cmd.reason
        else:
            path = "/api/plans"
            body = {
                "home_unit": row.home_unit,
                "phase_id": phase.phase_id,
                "targets": targets,
                "decision": decision,
            }
        digest = hashlib.sha256(
            json.dumps([path, body], sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        out.append(
            PlanRequest(
                home_unit=row.home_unit,
                path=path,
                idempotency_key=f"planner-{digest[:40]}",
                body=body,
            )
        )
    return out


async def plan_proposal(ports: ReportingPorts, phase_id: str, cmd: PlannerRequest) -> PlannerAnswer:
    """The proposal for `phase_id` from the phase before it (docs/reporting.md, "Planner")."""
    phase = find_phase(ports, phase_id)
    previous = _previous(ports, phase)
    day = cmd.as_of or today()
    ev = await phase_evaluation(ports, previous.phase_id, day, Filters(), "successor")
    ref = reference_data()
    localities = []
    for code in _candidates(phase, sorted(cmd.eligible_officials)):
        area = ref.rollup(code)
        localities.append(
            Locality(
                home_unit=code,
                area=area,
                mountainous=mountainous_during(code, phase),
                eligible_officials=cmd.eligible_officials.get(code),
                history=_history(area, previous, ev),
            )
        )
    planned = [loc for loc in localities if loc.mountainous]
    if cmd.target_share is not None:
        missing = [loc.home_unit for loc in planned if loc.eligible_officials is None]
        if missing:
            raise DomainError(
                RuleCode.INVALID_REQUEST,
                "a target share needs the eligible officials of every locality; missing: "
                + ", ".join(missing),
                missing=",".join(missing),
            )
        eligible_total = sum(loc.eligible_officials or 0 for loc in planned)
        areas = {loc.area: loc.history for loc in planned}
        seconded = sum(h.officials for h in areas.values() if h is not None)
        target = Target(
            basis="share",
            officials=share_target(cmd.target_share, eligible_total, seconded),
            share=cmd.target_share,
            eligible_total=eligible_total,
            already_seconded=seconded,
        )
    else:
        known = all(loc.eligible_officials is not None for loc in planned)
        target = Target(
            basis="officials",
            officials=cmd.target_officials or 0,
            share=None,
            eligible_total=sum(loc.eligible_officials or 0 for loc in planned) if known else None,
            already_seconded=None,
        )
    years = range(phase.starts_on.year, phase.ends_on.year + 1)
    proposal = propose(
        localities,
        target.officials,
        years,
        ev.time_to_fill_days.median,
        min_per_year=cmd.min_per_year,
        max_per_year=cmd.max_per_year,
    )
    adopted = await ports.queries.plans(
        phase, max(phase.ends_on, today()), Filters(), rollup="none"
    )
    existing = {unit: row.plan_ids for unit, row in adopted.localities.items()}
    return PlannerAnswer(
        phase_id=phase.phase_id,
        provisional=phase.provisional,
        based_on=previous.phase_id,
        as_of=ev.as_of,
        target=target,
        proposal=proposal,
        existing_plans=existing,
        requests=_requests(phase, proposal, existing, cmd),
    )
