"""Commands of the placement service: orders from a home authority or a host."""

import datetime as dt
from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator

from shared.contract.personal import IntakeSealed
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
)

Exclusion = Literal["UNDER_DISCIPLINE", "UNDER_INVESTIGATION", "PREGNANT_OR_CHILD_UNDER_36_MONTHS"]


class OfficialIn(FrozenModel):
    """The official as the home authority describes them; the home unit is a code.

    The identity comes either in clear (`full_name` and `birth_date`) or sealed by the sender
    for the placement service's intake key (`identity_sealed`, docs/contract.md): sealed, it
    is readable by no one on the way (commands topic, dead letters, proxies, logs)."""

    official_id: OfficialId
    full_name: Text | None = Field(default=None, description="Unless `identity_sealed`.")
    gender: Gender
    birth_date: dt.date | None = Field(default=None, description="Unless `identity_sealed`.")
    identity_sealed: IntakeSealed | None = Field(
        default=None,
        description="`full_name` and `birth_date` sealed for `GET /api/personal-data/intake-key`.",
    )
    ethnicity: Code = Field(examples=["CO_TU"])
    ethnic_subgroup: Code | None = None
    service_category: ServiceCategory
    position_rank: Code = Field(examples=["PHO_TRUONG_PHONG"])
    home_unit: Code = Field(examples=["NAM_GIANG"])
    exclusions: list[Exclusion] = Field(
        default_factory=list, description="Legal grounds that bar a secondment, if any."
    )
    consents_despite_exclusion: bool = Field(
        default=False,
        description="The official chose to be seconded despite pregnancy or a young child.",
    )

    @model_validator(mode="after")
    def _one_identity(self) -> "OfficialIn":
        clear = (self.full_name is not None, self.birth_date is not None)
        if self.identity_sealed is not None:
            if any(clear):
                raise ValueError("send `identity_sealed` or `full_name` and `birth_date`, not both")
        elif not all(clear):
            raise ValueError("`full_name` and `birth_date` are required (or `identity_sealed`)")
        return self


class SecondOfficial(FrozenModel):
    """Second an official to a need (the body of `POST /api/secondments`)."""

    need_id: UUID
    official: OfficialIn
    start_date: dt.date
    planned_end_date: dt.date = Field(description="Inclusive last day.")
    decision: Decision


class EndSecondment(FrozenModel):
    """End a secondment by decision, with the host's rating."""

    ended_on: dt.date
    reason: EndReason
    rating: Rating
    remarks: LongText | None = None
    decision: Decision


class RecordReception(FrozenModel):
    """The host received the official and assigned work."""

    received_on: dt.date
    assigned_role: Text
    supervisor: Text | None = None


class ExtendSecondment(FrozenModel):
    """Move the planned end later by decision, within the cap."""

    new_planned_end_date: dt.date
    decision: Decision


class ArrangePostSecondment(FrozenModel):
    """Record the official's post after the secondment."""

    arrangement: Arrangement
    new_position_rank: Code | None = Field(default=None, description="Required when PROMOTED.")
    effective_date: dt.date
    destination_unit: Code | None = Field(
        default=None,
        description="The unit the official works for from `effective_date` (a unit code valid "
        "then); optional, so that agencies' systems written before it keep working.",
        examples=["NAM_GIANG"],
    )
    post_title: Text | None = Field(
        default=None, description="The post held there.", examples=["Trưởng phòng Nội vụ"]
    )


class RecordPromotionAfterReturn(FrozenModel):
    """Record a promotion after the secondment ended and the post was arranged."""

    new_position_rank: Code = Field(
        description="Strictly above the rank at secondment and every earlier promotion.",
        examples=["TRUONG_PHONG"],
    )
    promoted_on: dt.date = Field(description="When the promotion takes effect.")
    destination_unit: Code | None = Field(
        default=None, description="The unit of the new post (a unit code valid then)."
    )
    post_title: Text | None = None
    decision: Decision


class CancelSecondment(FrozenModel):
    """Void a secondment entered by mistake; frees its position."""

    reason: Text
    cancelled_on: dt.date | None = Field(default=None, description="Defaults to today.")
