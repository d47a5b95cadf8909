"""Constrained value types shared by every event and request."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Code = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64),
    Field(description="Reference-data code (upper-case ASCII), e.g. `NAM_TRA_MY`, `CO_TU`."),
]
"""A reference-data code: units, sectors, ranks and ethnic groups."""

OfficialId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", min_length=1, max_length=64),
    Field(
        description=("Opaque identifier chosen by the home authority; never a citizen's ID number.")
    ),
]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]

Gender = Literal["F", "M"]
ServiceCategory = Literal["CADRE", "CIVIL_SERVANT", "PUBLIC_EMPLOYEE"]
EndReason = Literal["COMPLETED", "TERMINATED_EARLY"]
Rating = Literal["EXCELLENT", "GOOD", "COMPLETED", "NOT_COMPLETED"]
Arrangement = Literal["RETURNED_TO_FORMER_POST", "PROMOTED", "TRANSFERRED", "OTHER"]


class FrozenModel(BaseModel):
    """Immutable, strict-about-unknown-fields base for contract models."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class UnitRef(FrozenModel):
    """An organisation unit as it was named on the event's date."""

    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]


class Decision(FrozenModel):
    """A formal decision (quyết định): number, date and optional signatory."""

    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    date: dt.date
    signed_by: Text | None = None
