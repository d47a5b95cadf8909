"""Event data of contract v1: the `data` member of each CloudEvent, by event `type`.

Events are facts in the past tense. Each model is frozen and rejects unknown fields, so a
producer cannot silently drift from the published JSON Schema.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final
from uuid import UUID

from pydantic import Field

from shared.contract.types import (
    Arrangement,
    Code,
    Decision,
    EndReason,
    FrozenModel,
    Gender,
    LongText,
    OfficialId,
    Rating,
    ServiceCategory,
    Text,
    UnitRef,
)
from shared.contract.upcasting import UPCASTERS, UpcasterRegistry

Positions = Annotated[int, Field(ge=1, le=20, description="Number of officials wanted (1–20).")]
DurationMonths = Annotated[
    int, Field(ge=1, le=36, description="Months; 1 to the phase's cap (6 in the plan).")
]
PhaseId = Annotated[
    str, Field(pattern=r"^[0-9]{4}-[0-9]{4}$", examples=["2024-2025"], description="A phase.")
]


class EventData(FrozenModel):
    """Base of every event's data."""

    schema_version: ClassVar[int] = 1
    """Version of this model's schema, stamped on envelopes as `dataversion` (absent: 1).
    Raised only together with an upcaster from the previous version (see `upcasting`)."""


class Official(FrozenModel):
    """Everything personal about the seconded official, in one sub-object."""

    official_id: OfficialId
    full_name: Text
    gender: Gender
    birth_date: dt.date
    ethnicity: Code
    ethnic_subgroup: Code | None = None
    service_category: ServiceCategory
    position_rank: Code
    home_unit: UnitRef


class NeedRaised(EventData):
    """A provincial department raised a need for seconded officials in a sector."""

    need_id: UUID
    host_unit: UnitRef
    sector: Code
    position_title: Text
    positions: Positions
    min_rank: Code
    desired_start: dt.date
    duration_months: DurationMonths
    description: LongText = ""
    raised_on: dt.date


class NeedAmended(EventData):
    """The host corrected a need before any position was filled; only changed fields are set."""

    need_id: UUID
    amended_on: dt.date
    host_unit: UnitRef | None = None
    sector: Code | None = None
    position_title: Text | None = None
    positions: Positions | None = None
    min_rank: Code | None = None
    desired_start: dt.date | None = None
    duration_months: DurationMonths | None = None
    description: LongText | None = None
    raised_on: dt.date | None = None


class NeedWithdrawn(EventData):
    """The host withdrew a need: free positions close, filled ones stay."""

    need_id: UUID
    withdrawn_on: dt.date
    reason: Text
    positions_filled: int = Field(ge=0)


class NeedFilled(EventData):
    """Every position of the need is taken."""

    need_id: UUID
    filled_on: dt.date
    positions: Positions


class NeedReopened(EventData):
    """A filled need got a position back because a secondment to it was cancelled."""

    need_id: UUID
    reopened_on: dt.date
    positions_filled: int = Field(ge=0)


class OfficerSeconded(EventData):
    """The home authority decided to second an eligible official to a need."""

    secondment_id: UUID
    need_id: UUID
    official: Official
    host_unit: UnitRef
    sector: Code
    start_date: dt.date
    planned_end_date: dt.date = Field(description="Inclusive last day of the secondment.")
    decision: Decision


class OfficialReceived(EventData):
    """The host received the official and assigned work."""

    secondment_id: UUID
    received_on: dt.date
    assigned_role: Text
    supervisor: Text | None = None


class SecondmentExtended(EventData):
    """The secondment's planned end moved later by decision (within the cap)."""

    secondment_id: UUID
    new_planned_end_date: dt.date
    decision: Decision


class SecondmentEnded(EventData):
    """The secondment ended by decision, with the host's rating."""

    secondment_id: UUID
    official_id: OfficialId
    ended_on: dt.date
    reason: EndReason
    rating: Rating
    remarks: LongText | None = None
    decision: Decision


class PostSecondmentArranged(EventData):
    """The home authority recorded the official's post after the secondment.

    `destination_unit` and `post_title` were added within v1 as optional fields: events
    recorded before them read as `null` (where the official went is then unknown)."""

    secondment_id: UUID
    official_id: OfficialId
    arrangement: Arrangement
    new_position_rank: Code | None = None
    effective_date: dt.date
    destination_unit: UnitRef | None = Field(
        default=None,
        description="The unit the official works for from `effective_date`, as named then.",
    )
    post_title: Text | None = Field(
        default=None, description="The post held there, e.g. `Trưởng phòng Nội vụ`."
    )


class OfficialPromotedAfterReturn(EventData):
    """After the secondment ended (and the post arrangement), the home authority promoted the
    official again: a promotion the plan counts with its delay from the return."""

    secondment_id: UUID
    official_id: OfficialId
    new_position_rank: Code
    promoted_on: dt.date
    destination_unit: UnitRef | None = None
    post_title: Text | None = None
    decision: Decision


class SecondmentCancelled(EventData):
    """A secondment entered by mistake was voided; it frees its position."""

    secondment_id: UUID
    need_id: UUID
    reason: Text
    cancelled_on: dt.date


class SectorTarget(FrozenModel):
    """Officials a locality plans to second in one sector in one year."""

    sector: Code
    officials: int = Field(ge=0, le=10_000)


class PlanTarget(FrozenModel):
    """Officials a locality plans to second in one year of the phase; `by_sector` optionally
    splits part or all of them by sector (its sum is at most `officials`)."""

    year: int = Field(ge=2000, le=2100)
    officials: int = Field(ge=0, le=10_000)
    by_sector: list[SectorTarget] = Field(default_factory=list)


class SecondmentPlanAdopted(EventData):
    """A mountainous locality's secondment plan for a phase was adopted by decision: how many
    officials it will second, year by year (by the locality's authority or, for the province,
    the Department of Home Affairs)."""

    plan_id: UUID
    home_unit: UnitRef
    phase_id: PhaseId
    targets: list[PlanTarget] = Field(min_length=1, description="One entry per planned year.")
    decision: Decision


class SecondmentPlanAmended(EventData):
    """The plan's targets were replaced by a later decision; earlier decisions stay in the
    plan's history (the targets in force on a day are the latest decided by then)."""

    plan_id: UUID
    targets: list[PlanTarget] = Field(min_length=1, description="The whole new schedule.")
    decision: Decision
    reason: Text | None = None


EVENT_TYPES: Final[dict[str, type[EventData]]] = {
    cls.__name__: cls
    for cls in (
        NeedRaised,
        NeedAmended,
        NeedWithdrawn,
        NeedFilled,
        NeedReopened,
        OfficerSeconded,
        OfficialReceived,
        SecondmentExtended,
        SecondmentEnded,
        PostSecondmentArranged,
        SecondmentCancelled,
        OfficialPromotedAfterReturn,
        SecondmentPlanAdopted,
        SecondmentPlanAmended,
    )
}
"""Every event type of contract v1, by its CloudEvents `type`."""


def parse_data(
    event_type: str,
    data: Mapping[str, Any],
    version: int = 1,
    *,
    upcasters: UpcasterRegistry = UPCASTERS,
) -> EventData:
    """Validate an event's data against its current model, after upcasting `data` from
    `version` (the envelope's `dataversion`; 1 when absent) to the model's version.

    Raises KeyError for an unknown type, `UnreadableVersion` (a KeyError) for a version
    that cannot be upcast, pydantic's ValidationError for invalid data.
    """
    model = EVENT_TYPES[event_type]
    upcast = upcasters.upcast(event_type, data, version, model.schema_version)
    # the model's validator called directly: every consumer reads every event through here
    return model.__pydantic_validator__.validate_python(upcast)  # type: ignore[no-any-return]
