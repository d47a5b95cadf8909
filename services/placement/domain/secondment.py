"""The Secondment aggregate: from the home authority's decision to the post afterwards."""

import datetime as dt
from collections.abc import Iterable, Sequence
from enum import StrEnum
from uuid import UUID

from services.placement.domain import rules
from services.placement.domain.commands import (
    ArrangePostSecondment,
    CancelSecondment,
    EndSecondment,
    ExtendSecondment,
    RecordPromotionAfterReturn,
    RecordReception,
    SecondOfficial,
)
from services.placement.domain.views import NeedSnapshot, OfficialSpell
from shared.contract.events import (
    EventData,
    OfficerSeconded,
    Official,
    OfficialPromotedAfterReturn,
    OfficialReceived,
    PostSecondmentArranged,
    SecondmentCancelled,
    SecondmentEnded,
    SecondmentExtended,
)
from shared.contract.rules import RuleCode
from shared.contract.types import UnitRef
from shared.ids import new_id
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
    received: OfficialReceived | None
    extensions: list[SecondmentExtended]
    ended: SecondmentEnded | None
    arranged: PostSecondmentArranged | None
    promotions: list[OfficialPromotedAfterReturn]
    cancelled: SecondmentCancelled | None

    @property
    def stream_id(self) -> str:
        return str(self.secondment_id)

    @property
    def data_subject(self) -> str:
        """The seconded official: their key seals the remarks, supervisor and reasons."""
        return self.seconded.official.official_id

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
        if official.full_name is None or official.birth_date is None:
            # The service layer opens a sealed identity first; a decision names its official.
            raise DomainError(RuleCode.INVALID_REQUEST, "the official's identity is not open")
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
                secondment_id=new_id(),
                need_id=cmd.need_id,
                official=Official(
                    **official.model_dump(
                        exclude={
                            "home_unit",
                            "exclusions",
                            "consents_despite_exclusion",
                            "identity_sealed",
                        }
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

    def _require(self, status: SecondmentStatus, action: str) -> None:
        if self.status is not status:
            raise DomainError(
                RuleCode.LIFECYCLE_ORDER,
                f"cannot {action}: the secondment is {self.status.value}",
                current_status=self.status.value,
            )

    def receive(self, cmd: RecordReception) -> None:
        """The host receives the official, not before the start, once."""
        self._require(SecondmentStatus.ACTIVE, "record the reception")
        if self.received is not None:
            raise DomainError(RuleCode.LIFECYCLE_ORDER, "the reception is already recorded")
        if not self.seconded.start_date <= cmd.received_on <= self.planned_end_date:
            raise DomainError(
                RuleCode.LIFECYCLE_ORDER,
                f"reception on {cmd.received_on} is outside the secondment "
                f"({self.seconded.start_date} – {self.planned_end_date})",
            )
        self._record(OfficialReceived(secondment_id=self.secondment_id, **cmd.model_dump()))

    def extend(
        self, cmd: ExtendSecondment, others: Iterable[OfficialSpell], phases: Sequence[Phase]
    ) -> None:
        """Move the planned end later; the whole secondment stays within the cap."""
        self._require(SecondmentStatus.ACTIVE, "extend")
        if cmd.new_planned_end_date <= self.planned_end_date:
            raise DomainError(
                RuleCode.LIFECYCLE_ORDER,
                f"the new end {cmd.new_planned_end_date} is not after {self.planned_end_date}",
            )
        rules.check_not_before_decision(cmd.new_planned_end_date, cmd.decision.date, "new end")
        rules.check_duration_within_cap(self.seconded.start_date, cmd.new_planned_end_date, phases)
        rules.check_no_overlap(
            self.seconded.start_date,
            cmd.new_planned_end_date,
            (o for o in others if o.secondment_id != self.stream_id),
        )
        self._record(SecondmentExtended(secondment_id=self.secondment_id, **cmd.model_dump()))

    def end(self, cmd: EndSecondment) -> None:
        """End by decision, with the host's rating; only once, within its dates."""
        self._require(SecondmentStatus.ACTIVE, "end")
        if not self.seconded.start_date <= cmd.ended_on <= self.planned_end_date:
            raise DomainError(
                RuleCode.LIFECYCLE_ORDER,
                f"the end {cmd.ended_on} is outside the secondment "
                f"({self.seconded.start_date} – {self.planned_end_date}); extend it first",
            )
        rules.check_not_before_decision(cmd.ended_on, cmd.decision.date, "end date")
        self._record(
            SecondmentEnded(
                secondment_id=self.secondment_id,
                official_id=self.seconded.official.official_id,
                **cmd.model_dump(),
            )
        )

    def arrange_post(self, cmd: ArrangePostSecondment) -> None:
        """After the end, the home authority records the official's post, once."""
        self._require(SecondmentStatus.ENDED, "record the post arrangement")
        if self.arranged is not None:
            raise DomainError(RuleCode.LIFECYCLE_ORDER, "the post arrangement is already recorded")
        assert self.ended is not None
        if cmd.effective_date < self.ended.ended_on:
            raise DomainError(
                RuleCode.LIFECYCLE_ORDER,
                f"the arrangement takes effect {cmd.effective_date}, before the end "
                f"{self.ended.ended_on}",
            )
        if cmd.arrangement == "PROMOTED" and cmd.new_position_rank is None:
            raise DomainError(RuleCode.INVALID_REQUEST, "a promotion needs `new_position_rank`")
        if cmd.new_position_rank is not None:
            rules.check_rank_known(cmd.new_position_rank, cmd.effective_date)
        if cmd.arrangement == "PROMOTED":
            assert cmd.new_position_rank is not None
            rules.check_promotion_above(
                cmd.new_position_rank, self.seconded.official.position_rank, earlier=()
            )
        self._record(
            PostSecondmentArranged(
                secondment_id=self.secondment_id,
                official_id=self.seconded.official.official_id,
                **cmd.model_dump(exclude={"destination_unit"}),
                destination_unit=rules.unit_ref(cmd.destination_unit, cmd.effective_date),
            )
        )

    def promote_after_return(self, cmd: RecordPromotionAfterReturn) -> None:
        """A later promotion: after the end and the post arrangement, to a rank above the rank
        at secondment and every earlier promotion, not dated before any of them."""
        self._require(SecondmentStatus.ENDED, "record a promotion after the return")
        if self.arranged is None:
            raise DomainError(
                RuleCode.LIFECYCLE_ORDER,
                "record the post arrangement first: a later promotion follows it",
            )
        last = max([self.arranged.effective_date, *(p.promoted_on for p in self.promotions)])
        if cmd.promoted_on < last:
            raise DomainError(
                RuleCode.LIFECYCLE_ORDER,
                f"the promotion takes effect {cmd.promoted_on}, before {last} "
                "(the post arrangement or an earlier promotion)",
            )
        rules.check_not_before_decision(cmd.promoted_on, cmd.decision.date, "promotion")
        rules.check_rank_known(cmd.new_position_rank, cmd.promoted_on)
        earlier = [p.new_position_rank for p in self.promotions]
        if self.arranged.arrangement == "PROMOTED" and self.arranged.new_position_rank:
            earlier.insert(0, self.arranged.new_position_rank)
        rules.check_promotion_above(
            cmd.new_position_rank, self.seconded.official.position_rank, earlier=earlier
        )
        self._record(
            OfficialPromotedAfterReturn(
                secondment_id=self.secondment_id,
                official_id=self.seconded.official.official_id,
                **cmd.model_dump(exclude={"destination_unit"}),
                destination_unit=rules.unit_ref(cmd.destination_unit, cmd.promoted_on),
            )
        )

    def cancel(self, cmd: CancelSecondment, today: dt.date) -> None:
        """Void a record entered by mistake; it frees its position."""
        if self.status is SecondmentStatus.CANCELLED:
            raise DomainError(RuleCode.LIFECYCLE_ORDER, "the secondment is already cancelled")
        self._record(
            SecondmentCancelled(
                secondment_id=self.secondment_id,
                need_id=self.seconded.need_id,
                reason=cmd.reason,
                cancelled_on=cmd.cancelled_on or today,
            )
        )

    def apply(self, event: EventData) -> None:
        match event:
            case OfficerSeconded():
                self.secondment_id = event.secondment_id
                self.seconded = event
                self.status = SecondmentStatus.ACTIVE
                self.planned_end_date = event.planned_end_date
                self.received = None
                self.extensions = []
                self.ended = None
                self.arranged = None
                self.promotions = []
                self.cancelled = None
            case OfficialReceived():
                self.received = event
            case SecondmentExtended():
                self.extensions.append(event)
                self.planned_end_date = event.new_planned_end_date
            case SecondmentEnded():
                self.status = SecondmentStatus.ENDED
                self.ended = event
            case PostSecondmentArranged():
                self.arranged = event
            case OfficialPromotedAfterReturn():
                self.promotions.append(event)
            case SecondmentCancelled():
                self.status = SecondmentStatus.CANCELLED
                self.cancelled = event
            case _:
                raise TypeError(f"Secondment cannot apply {type(event).__name__}")
