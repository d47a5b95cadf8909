"""The Need aggregate: a host department's request for seconded officials."""

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from uuid import UUID, uuid4

from services.needs.domain.commands import RaiseNeed
from shared.contract.events import EventData, NeedFilled, NeedRaised
from shared.contract.rules import RuleCode
from shared.contract.types import UnitRef
from shared.phases import DEFAULT_PHASES, Phase, cap_for
from shared.reference import reference_data
from shared.seedwork.aggregate import Aggregate
from shared.seedwork.errors import DomainError


class NeedStatus(StrEnum):
    """Where a need stands."""

    OPEN = "OPEN"
    FILLED = "FILLED"
    WITHDRAWN = "WITHDRAWN"


def check_codes_known(cmd: RaiseNeed, on: dt.date) -> UnitRef:
    """Every code must exist in the reference data valid on the raising date."""
    ref = reference_data()
    unit = ref.unit(cmd.host_unit, on)
    if unit is None:
        raise DomainError(
            RuleCode.UNKNOWN_CODE, f"unit {cmd.host_unit} is not valid on {on}", code=cmd.host_unit
        )
    if ref.sector(cmd.sector, on) is None:
        raise DomainError(
            RuleCode.UNKNOWN_CODE, f"sector {cmd.sector} is not valid on {on}", code=cmd.sector
        )
    if ref.rank(cmd.min_rank, on) is None:
        raise DomainError(
            RuleCode.UNKNOWN_CODE, f"rank {cmd.min_rank} is not valid on {on}", code=cmd.min_rank
        )
    return UnitRef(code=unit.code, name=unit.name)


def check_duration_within_cap(months: int, start: dt.date, phases: Sequence[Phase]) -> None:
    """A need may not ask for longer than the phase's cap (6 months in the plan)."""
    cap = cap_for(start, phases)
    if months > cap:
        raise DomainError(
            RuleCode.DURATION_OVER_CAP,
            f"{months} months exceeds the cap of {cap} months",
            cap_months=cap,
        )


class Need(Aggregate):
    """State rebuilt from the need's events; commands check rules, then record events."""

    need_id: UUID
    raised: NeedRaised
    status: NeedStatus
    positions_filled: int

    @property
    def stream_id(self) -> str:
        return str(self.need_id)

    @classmethod
    def raise_need(
        cls, cmd: RaiseNeed, today: dt.date, phases: Sequence[Phase] = DEFAULT_PHASES
    ) -> "Need":
        """Validate and raise a new need."""
        raised_on = cmd.raised_on or today
        host_unit = check_codes_known(cmd, raised_on)
        check_duration_within_cap(cmd.duration_months, cmd.desired_start, phases)
        need = cls()
        need._record(
            NeedRaised(
                need_id=uuid4(),
                host_unit=host_unit,
                raised_on=raised_on,
                **cmd.model_dump(exclude={"host_unit", "raised_on"}),
            )
        )
        return need

    def record_filled_positions(self, filled: int, on: dt.date) -> None:
        """Called with the number of live secondments; fills the need when all are taken."""
        self.positions_filled = filled
        if self.status is NeedStatus.OPEN and filled >= self.raised.positions:
            self._record(
                NeedFilled(need_id=self.need_id, filled_on=on, positions=self.raised.positions)
            )

    def apply(self, event: EventData) -> None:
        match event:
            case NeedRaised():
                self.need_id = event.need_id
                self.raised = event
                self.status = NeedStatus.OPEN
                self.positions_filled = 0
            case NeedFilled():
                self.status = NeedStatus.FILLED
            case _:
                raise TypeError(f"Need cannot apply {type(event).__name__}")
