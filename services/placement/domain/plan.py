"""The SecondmentPlan aggregate: how many officials a mountainous locality plans to second in
each year of a phase, by decision, with every amending decision kept.

The plan is the home authorities' own commitment (step 2 of the plan: "the district People's
Committee issuing its secondment plan"), hence in the placement service beside the
secondments it is measured against (docs/adr/0006-plans-in-placement.md).
"""

import datetime as dt
from collections.abc import Sequence
from uuid import UUID

from pydantic import Field

from shared.contract.events import (
    EventData,
    PhaseId,
    PlanTarget,
    SecondmentPlanAdopted,
    SecondmentPlanAmended,
)
from shared.contract.rules import RuleCode
from shared.contract.types import Code, Decision, FrozenModel, Text, UnitRef
from shared.ids import new_id
from shared.phases import DEFAULT_PHASES, Phase
from shared.reference import reference_data
from shared.seedwork.aggregate import Aggregate
from shared.seedwork.errors import DomainError


class SectorTargetIn(FrozenModel):
    """A sector's share of a year's target, as asked (counts checked by the rules)."""

    sector: Code = Field(examples=["HEALTH"])
    officials: int


class PlanTargetIn(FrozenModel):
    """A year's target, as asked: negative counts are refused by the rules with
    PLAN_TARGET_INVALID rather than by the schema, so the refusal names the rule."""

    year: int = Field(examples=[2025])
    officials: int = Field(examples=[4])
    by_sector: list[SectorTargetIn] = Field(default_factory=list)


class AdoptPlan(FrozenModel):
    """Adopt a locality's plan for a phase (the body of `POST /api/plans`)."""

    home_unit: Code = Field(examples=["NAM_GIANG"])
    phase_id: PhaseId
    targets: list[PlanTargetIn] = Field(min_length=1, max_length=10)
    decision: Decision


class AmendPlan(FrozenModel):
    """Replace a plan's targets by a later decision (`POST /api/plans/{id}/amendments`)."""

    targets: list[PlanTargetIn] = Field(min_length=1, max_length=10)
    decision: Decision
    reason: Text | None = None


def find_phase(phase_id: str, phases: Sequence[Phase]) -> Phase:
    """The configured phase, or UNKNOWN_CODE."""
    phase = next((p for p in phases if p.phase_id == phase_id), None)
    if phase is None:
        raise DomainError(RuleCode.UNKNOWN_CODE, f"no phase {phase_id}", code=phase_id)
    return phase


def check_locality(code: str, on: dt.date, phase: Phase) -> UnitRef:
    """A known unit, valid on the decision date, mountainous then, and in existence during
    the phase (a district abolished before the phase plans nothing in it)."""
    unit = reference_data().unit(code, on)
    if unit is None or unit.reporting_only:
        raise DomainError(RuleCode.UNKNOWN_CODE, f"unit {code} is not valid on {on}", code=code)
    if not unit.mountainous:
        raise DomainError(
            RuleCode.HOME_UNIT_NOT_MOUNTAINOUS,
            f"{code} ({unit.name}) is not a mountainous locality on {on}",
            home_unit=code,
        )
    if unit.valid_from > phase.ends_on or (
        unit.valid_to is not None and unit.valid_to < phase.starts_on
    ):
        raise DomainError(
            RuleCode.HOME_UNIT_NOT_MOUNTAINOUS,
            f"{code} ({unit.name}) does not exist during phase {phase.phase_id}",
            home_unit=code,
        )
    return UnitRef(code=unit.code, name=unit.name)


MAX_OFFICIALS = 10_000
"""The most officials a plan's year or sector may name (the contract's bound on `officials`)."""


def checked_targets(targets: Sequence[PlanTargetIn], phase: Phase, on: dt.date) -> list[PlanTarget]:
    """The targets as recorded, once every rule holds: years within the phase, each once;
    counts not negative; sectors known on the decision date, each once a year, together at
    most the year's officials."""
    years = range(phase.starts_on.year, phase.ends_on.year + 1)
    seen: set[int] = set()
    out: list[PlanTarget] = []
    ref = reference_data()
    for t in sorted(targets, key=lambda t: t.year):
        if t.year not in years:
            raise DomainError(
                RuleCode.PLAN_YEAR_OUTSIDE_PHASE,
                f"{t.year} is outside phase {phase.phase_id} ({years[0]}–{years[-1]})",
                year=t.year,
            )
        if t.year in seen:
            raise DomainError(RuleCode.PLAN_TARGET_INVALID, f"year {t.year} is given twice")
        seen.add(t.year)
        counts = [t.officials, *(s.officials for s in t.by_sector)]
        if any(c < 0 for c in counts):
            raise DomainError(
                RuleCode.PLAN_TARGET_INVALID, f"a count of {t.year} is negative", year=t.year
            )
        if any(c > MAX_OFFICIALS for c in counts):
            raise DomainError(
                RuleCode.PLAN_TARGET_INVALID,
                f"a count of {t.year} is above {MAX_OFFICIALS:,}",
                year=t.year,
            )
        sectors = [s.sector for s in t.by_sector]
        for sector in sectors:
            if ref.sector(sector, on) is None:
                raise DomainError(
                    RuleCode.UNKNOWN_CODE, f"sector {sector} is not valid on {on}", code=sector
                )
        if len(set(sectors)) != len(sectors):
            raise DomainError(
                RuleCode.PLAN_TARGET_INVALID, f"a sector is given twice in {t.year}", year=t.year
            )
        by_sector = sum(s.officials for s in t.by_sector)
        if by_sector > t.officials:
            raise DomainError(
                RuleCode.PLAN_TARGET_INVALID,
                f"{t.year}: the sectors add up to {by_sector}, more than {t.officials} officials",
                year=t.year,
            )
        out.append(PlanTarget.model_validate(t.model_dump()))
    return out


class SecondmentPlan(Aggregate):
    """State rebuilt from the plan's events; commands check rules, then record events."""

    plan_id: UUID
    adopted: SecondmentPlanAdopted
    targets: list[PlanTarget]
    decision: Decision
    """The latest decision: the adoption's, or the last amendment's."""

    @property
    def stream_id(self) -> str:
        return str(self.plan_id)

    @classmethod
    def adopt(cls, cmd: AdoptPlan, phases: Sequence[Phase] = DEFAULT_PHASES) -> "SecondmentPlan":
        """Validate and adopt a plan (the one-per-locality-and-phase rule is the service
        layer's: it needs the other plans)."""
        phase = find_phase(cmd.phase_id, phases)
        on = cmd.decision.date
        home = check_locality(cmd.home_unit, on, phase)
        targets = checked_targets(cmd.targets, phase, on)
        plan = cls()
        plan._record(
            SecondmentPlanAdopted(
                plan_id=new_id(),
                home_unit=home,
                phase_id=phase.phase_id,
                targets=targets,
                decision=cmd.decision,
            )
        )
        return plan

    def amend(self, cmd: AmendPlan, phases: Sequence[Phase] = DEFAULT_PHASES) -> None:
        """Replace the targets by a decision dated no earlier than the previous one."""
        if cmd.decision.date < self.decision.date:
            raise DomainError(
                RuleCode.PLAN_DECISION_OUT_OF_ORDER,
                f"decision of {cmd.decision.date} is before the plan's previous decision "
                f"({self.decision.number} of {self.decision.date})",
                previous_decision_date=self.decision.date.isoformat(),
            )
        phase = find_phase(self.adopted.phase_id, phases)
        targets = checked_targets(cmd.targets, phase, cmd.decision.date)
        self._record(
            SecondmentPlanAmended(
                plan_id=self.plan_id, targets=targets, decision=cmd.decision, reason=cmd.reason
            )
        )

    def apply(self, event: EventData) -> None:
        match event:
            case SecondmentPlanAdopted():
                self.plan_id = event.plan_id
                self.adopted = event
                self.targets = list(event.targets)
                self.decision = event.decision
            case SecondmentPlanAmended():
                self.targets = list(event.targets)
                self.decision = event.decision
            case _:
                raise TypeError(f"SecondmentPlan cannot apply {type(event).__name__}")
