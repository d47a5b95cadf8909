"""Commands of the needs service: orders from a host department."""

import datetime as dt
from uuid import UUID

from pydantic import Field

from shared.contract.events import DurationMonths, Positions
from shared.contract.types import Code, FrozenModel, LongText, Text


class RaiseNeed(FrozenModel):
    """Raise a need for seconded officials (the body of `POST /api/needs`)."""

    host_unit: Code = Field(examples=["SO_NONG_NGHIEP_PTNT"])
    sector: Code = Field(examples=["AGRICULTURE"])
    position_title: Text = Field(examples=["Phó Trưởng phòng Kế hoạch"])
    positions: Positions
    min_rank: Code = Field(examples=["PHO_TRUONG_PHONG"])
    desired_start: dt.date
    duration_months: DurationMonths
    description: LongText = ""
    raised_on: dt.date | None = Field(default=None, description="Defaults to today (Viet Nam).")


class RecordSecondment(FrozenModel):
    """Internal: the placement service seconded an official to this need."""

    need_id: UUID
    secondment_id: UUID
    decided_on: dt.date


class AmendNeed(FrozenModel):
    """Correct a need (the body of `PATCH /api/needs/{id}`): any field of the raise body."""

    host_unit: Code | None = None
    sector: Code | None = None
    position_title: Text | None = None
    positions: Positions | None = None
    min_rank: Code | None = None
    desired_start: dt.date | None = None
    duration_months: DurationMonths | None = None
    description: LongText | None = None
    raised_on: dt.date | None = None
    amended_on: dt.date | None = Field(default=None, description="Defaults to today (Viet Nam).")


class WithdrawNeed(FrozenModel):
    """Withdraw a need (the body of `POST /api/needs/{id}/withdrawal`)."""

    withdrawn_on: dt.date | None = Field(default=None, description="Defaults to today.")
    reason: Text
