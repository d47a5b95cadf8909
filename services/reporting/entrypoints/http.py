"""HTTP API of the reporting service (`/api/reports`) and the dashboard (`/`)."""

import datetime as dt
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.reporting.domain.evaluation import Evaluation, Filters, Rollup
from services.reporting.entrypoints.i18n import LABELS, format_number
from services.reporting.service_layer.ports import ReportingPorts
from services.reporting.service_layer.reports import (
    Alerts,
    Comparison,
    alerts,
    compare,
    phase_evaluation,
)
from shared.phases import Phase

AsOf = Annotated[
    dt.date | None,
    Query(description="Status at the end of this date; default today (Viet Nam)."),
]
RollupQuery = Annotated[
    Rollup, Query(description="`successor`: units grouped under their roll-up unit.")
]

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters["num"] = format_number


def build_router(ports: ReportingPorts) -> APIRouter:
    """Routes bound to one running reporting service."""
    router = APIRouter(tags=["reports"])

    @router.get("/api/reports/phases", response_model=list[Phase])
    async def phases() -> list[Phase]:
        """The phases of the plan with their duration caps."""
        return list(ports.phases)

    @router.get("/api/reports/phases/{phase_id}/evaluation", response_model=Evaluation)
    async def evaluation(
        phase_id: str,
        as_of: AsOf = None,
        home_unit: str | None = None,
        host_unit: str | None = None,
        sector: str | None = None,
        rollup: RollupQuery = "none",
    ) -> Evaluation:
        """The phase evaluation leadership reads."""
        filters = Filters(home_unit=home_unit, host_unit=host_unit, sector=sector)
        return await phase_evaluation(ports, phase_id, as_of, filters, rollup)

    @router.get("/api/reports/compare", response_model=Comparison)
    async def comparison(
        phases: Annotated[str, Query(description="Two phase ids, comma-separated.")],
        as_of: AsOf = None,
        home_unit: str | None = None,
        host_unit: str | None = None,
        sector: str | None = None,
        rollup: RollupQuery = "none",
    ) -> Comparison:
        """Two phases evaluated as of the same date, side by side, with differences."""
        filters = Filters(home_unit=home_unit, host_unit=host_unit, sector=sector)
        ids = [p.strip() for p in phases.split(",") if p.strip()]
        return await compare(ports, ids, as_of, filters, rollup)

    @router.get("/api/reports/alerts", response_model=Alerts)
    async def alert_list(
        as_of: AsOf = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Alerts:
        """Secondments ending within 30 days, overdue ones, needs open 60 days or more."""
        return await alerts(ports, as_of, limit)

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard(
        request: Request,
        phase: str = "2024-2025",
        as_of: dt.date | None = None,
        lang: str = "vi",
    ) -> HTMLResponse:
        """The leadership dashboard, Vietnamese first."""
        lang = "en" if lang == "en" else "vi"
        result = await phase_evaluation(ports, phase, as_of, Filters())
        return TEMPLATES.TemplateResponse(
            request,
            "dashboard.html",
            {
                "ev": result,
                "phases": ports.phases,
                "t": LABELS[lang],
                "lang": lang,
            },
        )

    return router
