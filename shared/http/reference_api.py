"""`GET /api/reference/…`: the reference data valid on a date, so agencies can build valid
requests (units, ranks, sectors, ethnic groups)."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from shared.http.problems import problem_responses
from shared.reference import reference_data
from shared.reference.models import Ethnicity, Rank, Sector, Unit, UnitKind

ValidOn = Annotated[
    dt.date | None, Query(description="Only what was in force on this date; default all.")
]


def build_reference_router() -> APIRouter:
    """Read-only routes over `shared.reference`."""
    router = APIRouter(
        prefix="/api/reference", tags=["reference data"], responses=problem_responses(422)
    )

    @router.get("/units", response_model=list[Unit])
    async def units(valid_on: ValidOn = None, kind: UnitKind | None = None) -> list[Unit]:
        """Organisation units, named as they were on `valid_on`, with successors."""
        return reference_data().units(valid_on=valid_on, kind=kind.value if kind else None)

    @router.get("/ranks", response_model=list[Rank])
    async def ranks(valid_on: ValidOn = None) -> list[Rank]:
        """Leadership ranks, lowest first; `eligible` marks deputy head of division and up."""
        return reference_data().ranks(valid_on=valid_on)

    @router.get("/sectors", response_model=list[Sector])
    async def sectors(valid_on: ValidOn = None) -> list[Sector]:
        """Sectors and fields a need can be raised for."""
        return reference_data().sectors(valid_on=valid_on)

    @router.get("/ethnicities", response_model=list[Ethnicity])
    async def ethnicities(valid_on: ValidOn = None) -> list[Ethnicity]:
        """The 54 ethnic groups with the statistics office's numbers and local subgroups."""
        data = reference_data()
        if valid_on is None:
            return data.ethnicities()
        return [e for e in data.ethnicities() if e.valid_on(valid_on)]

    return router
