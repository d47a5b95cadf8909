"""The Secondment aggregate: from the home authority's decision to the post afterwards."""

import datetime as dt
from collections.abc import Iterable, Sequence
from enum import StrEnum
from uuid import UUID, uuid4

from services.placement.domain import rules
from services.placement.domain.commands import EndSecondment, SecondOfficial
from services.placement.domain.views import NeedSnapshot, OfficialSpell
from shared.contract.events import EventData, OfficerSeconded, Official, SecondmentEnded
from shared.contract.rules import RuleCode
from shared.contract.types import UnitRef
from shared.phases import Phase
from shared.reference import reference_data
from shared.seedwork.aggregate import Aggregate
from shared.seedwork.errors import DomainError


class SecondmentStatus(StrEnum):
    """Where a secondment stands."""

    ACTIVE = "ACTIVE"
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"


class Secondment(Aggregate):
    """State rebuilt from the secondment's events."""

    secondment_id: UUID
    seconded: OfficerSeconded
    status: SecondmentStatus
    planned_end_date: dt.date
    ended: SecondmentEnded | None

    @property
    def stream_id(self) -> str:
        return str(self.secondment_id)

    @classmethod
    def second(
        cls,
        cmd: SecondOfficial,
        need: NeedSnapshot,
        spells: Iterable[OfficialSpell],
        phases: Sequence[Phase],
    ) -> "Secondment":
        """Check every rule of the plan, then record `OfficerSeconded`."""
        official = cmd.official
        decided_on = cmd.decision.date
        rules.check_codes_known(official, decided_on)
        rules.check_official_is_ethnic_minority(official)
        rules.check_not_excluded(official)
        rules.check_home_unit_mountainous(official, decided_on)
        rules.check_rank_at_least(official, need)
        rules.check_not_before_decision(cmd.start_date, decided_on, "start date")
        rules.check_duration_within_cap(cmd.start_date, cmd.planned_end_date, phases)
        rules.check_no_overlap(cmd.start_date, cmd.planned_end_date, spells)
        rules.check_need_open(need)
        home = reference_data().unit(official.home_unit, decided_on)
        assert home is not None  # checked by check_home_unit_mountainous
        secondment = cls()
        secondment._record(
            OfficerSeconded(
                secondment_id=uuid4(),
                need_id=cmd.need_id,
                official=Official(
                    **official.model_dump(
                        exclude={"home_unit", "exclusions", "consents_despite_exclusion"}
                    ),
                    home_unit=UnitRef(code=home.code, name=home.name),
                ),
                host_unit=need.host_unit,
                sector=need.sector,
                start_date=cmd.start_date,
                planned_end_date=cmd.planned_end_date,
                decision=cmd.decision,
            )
        )
        return secondment

    def end(self, cmd: EndSecondment) -> None:
        """End by decision, with the host's rating; only once, never before the start."""
        if self.status is not SecondmentStatus.ACTIVE:
            raise DomainError(
                RuleCode.LIFECYCLE_ORDER, f"the secondment is {self.status}, it cannot end"
            )
        if cmd.ended_on < self.seconded.start_date:
            raise DomainError(RuleCode.LIFECYCLE_ORDER, "the end is before the start")
        rules.check_not_before_decision(cmd.ended_on, cmd.decision.date, "end date")
        self._record(
            SecondmentEnded(
                secondment_id=self.secondment_id,
                official_id=self.seconded.official.official_id,
                **cmd.model_dump(),
            )
        )

    def apply(self, event: EventData) -> None:
        match event:
            case OfficerSeconded():
                self.secondment_id = event.secondment_id
                self.seconded = event
                self.status = SecondmentStatus.ACTIVE
                self.planned_end_date = event.planned_end_date
                self.ended = None
            case SecondmentEnded():
                self.status = SecondmentStatus.ENDED
                self.ended = event
            case _:
                raise TypeError(f"Secondment cannot apply {type(event).__name__}")
