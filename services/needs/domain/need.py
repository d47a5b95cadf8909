"""The Need aggregate: a host department's request for seconded officials."""

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from uuid import UUID

from services.needs.domain.commands import AmendNeed, RaiseNeed, WithdrawNeed
from shared.contract.events import (
    EventData,
    NeedAmended,
    NeedFilled,
    NeedRaised,
    NeedReopened,
    NeedWithdrawn,
)
from shared.contract.rules import RuleCode
from shared.contract.types import UnitRef
from shared.ids import new_id
from shared.phases import DEFAULT_PHASES, Phase, cap_for
from shared.reference import reference_data
from shared.seedwork.aggregate import Aggregate
from shared.seedwork.errors import DomainError


class NeedStatus(StrEnum):
    """Where a need stands."""

    OPEN = "OPEN"
    FILLED = "FILLED"
    WITHDRAWN = "WITHDRAWN"


def check_codes_known(
    host_unit: str | None, sector: str | None, min_rank: str | None, on: dt.date
) -> UnitRef | None:
    """Every code given must exist in the reference data valid on the date."""
    ref = reference_data()
    unit_ref = None
    if host_unit is not None:
        unit = ref.unit(host_unit, on)
        if unit is None or unit.reporting_only:
            raise DomainError(
                RuleCode.UNKNOWN_CODE, f"unit {host_unit} is not valid on {on}", code=host_unit
            )
        unit_ref = UnitRef(code=unit.code, name=unit.name)
    if sector is not None and ref.sector(sector, on) is None:
        raise DomainError(
            RuleCode.UNKNOWN_CODE, f"sector {sector} is not valid on {on}", code=sector
        )
    if min_rank is not None and ref.rank(min_rank, on) is None:
        raise DomainError(
            RuleCode.UNKNOWN_CODE, f"rank {min_rank} is not valid on {on}", code=min_rank
        )
    return unit_ref


def check_host_may_raise(host_unit: str, sector: str, on: dt.date) -> None:
    """Only a provincial department (or its successor after the 2025 reform) hosts, and only
    in a sector it covers on the raising date (codes already known to be valid)."""
    unit = reference_data().unit(host_unit, on)
    assert unit is not None
    if not unit.hosts:
        raise DomainError(
            RuleCode.HOST_NOT_ELIGIBLE,
            f"{unit.code} ({unit.name}) is not a provincial department: only departments and "
            "equivalent bodies raise needs for seconded officials",
            host_unit=unit.code,
        )
    if not unit.covers(sector, on):
        covered = ", ".join(unit.sectors_on(on)) or "none"
        raise DomainError(
            RuleCode.SECTOR_NOT_COVERED,
            f"{unit.code} does not cover sector {sector} on {on} (it covers: {covered})",
            host_unit=unit.code,
            sector=sector,
        )


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
        host_unit = check_codes_known(cmd.host_unit, cmd.sector, cmd.min_rank, raised_on)
        assert host_unit is not None
        check_host_may_raise(cmd.host_unit, cmd.sector, raised_on)
        check_duration_within_cap(cmd.duration_months, cmd.desired_start, phases)
        need = cls()
        need._record(
            NeedRaised(
                need_id=new_id(),
                host_unit=host_unit,
                raised_on=raised_on,
                **cmd.model_dump(exclude={"host_unit", "raised_on"}),
            )
        )
        return need

    def amend(
        self, cmd: AmendNeed, today: dt.date, phases: Sequence[Phase] = DEFAULT_PHASES
    ) -> None:
        """Correct fields while no position is filled; records only what changed."""
        self._check_open()
        if self.positions_filled > 0:
            raise DomainError(
                RuleCode.NEED_ALREADY_FILLED,
                f"need {self.need_id} has {self.positions_filled} filled position(s)",
            )
        amended_on = cmd.amended_on or today
        given = cmd.model_dump(exclude={"amended_on"}, exclude_none=True)
        current = self.raised.model_dump()
        changed = {k: v for k, v in given.items() if k != "host_unit" and current.get(k) != v}
        raised_on = given.get("raised_on", self.raised.raised_on)
        # Every code, given or kept, must be valid on the (possibly moved) raising date.
        unit_ref = check_codes_known(
            cmd.host_unit or self.raised.host_unit.code,
            cmd.sector or self.raised.sector,
            cmd.min_rank or self.raised.min_rank,
            raised_on,
        )
        check_host_may_raise(
            cmd.host_unit or self.raised.host_unit.code, cmd.sector or self.raised.sector, raised_on
        )
        if unit_ref is not None and unit_ref != self.raised.host_unit:
            changed["host_unit"] = unit_ref
        start = changed.get("desired_start", self.raised.desired_start)
        months = changed.get("duration_months", self.raised.duration_months)
        check_duration_within_cap(months, start, phases)
        if not changed:
            return
        self._record(NeedAmended(need_id=self.need_id, amended_on=amended_on, **changed))

    def withdraw(self, cmd: WithdrawNeed, today: dt.date) -> None:
        """Close the free positions; filled ones stay filled."""
        if self.status is NeedStatus.FILLED:
            raise DomainError(RuleCode.NEED_ALREADY_FILLED, f"need {self.need_id} is filled")
        self._check_open()
        withdrawn_on = cmd.withdrawn_on or today
        if withdrawn_on < self.raised.raised_on:
            raise DomainError(RuleCode.LIFECYCLE_ORDER, "withdrawn before it was raised")
        self._record(
            NeedWithdrawn(
                need_id=self.need_id,
                withdrawn_on=withdrawn_on,
                reason=cmd.reason,
                positions_filled=self.positions_filled,
            )
        )

    def record_filled_positions(self, filled: int, on: dt.date) -> None:
        """Called with the number of live secondments: fills the need when all are taken,
        reopens it when a cancellation gave one back. An early end frees nothing."""
        self.positions_filled = filled
        if self.status is NeedStatus.OPEN and filled >= self.raised.positions:
            self._record(
                NeedFilled(need_id=self.need_id, filled_on=on, positions=self.raised.positions)
            )
        elif self.status is NeedStatus.FILLED and filled < self.raised.positions:
            self._record(
                NeedReopened(need_id=self.need_id, reopened_on=on, positions_filled=filled)
            )

    def _check_open(self) -> None:
        if self.status is not NeedStatus.OPEN:
            raise DomainError(
                RuleCode.NEED_NOT_OPEN,
                f"need {self.need_id} is {self.status}",
                current_status=self.status.value,
            )

    def apply(self, event: EventData) -> None:
        match event:
            case NeedRaised():
                self.need_id = event.need_id
                self.raised = event
                self.status = NeedStatus.OPEN
                self.positions_filled = 0
            case NeedAmended():
                changes = event.model_dump(exclude={"need_id", "amended_on"}, exclude_none=True)
                self.raised = self.raised.model_copy(update={k: getattr(event, k) for k in changes})
            case NeedWithdrawn():
                self.status = NeedStatus.WITHDRAWN
            case NeedFilled():
                self.status = NeedStatus.FILLED
            case NeedReopened():
                self.status = NeedStatus.OPEN
            case _:
                raise TypeError(f"Need cannot apply {type(event).__name__}")
