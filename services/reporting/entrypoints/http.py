"""HTTP API of the reporting service (`/api/reports`) and the dashboard (`/`)."""

import datetime as dt
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.reporting.domain.evaluation import Evaluation, Filters
from services.reporting.entrypoints.i18n import LABELS, format_number
from services.reporting.service_layer.ports import ReportingPorts
from services.reporting.service_layer.reports import phase_evaluation
from shared.phases import Phase

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
        as_of: Annotated[
            dt.date | None,
            Query(description="Status at the end of this date; default today (Viet Nam)."),
        ] = None,
        home_unit: str | None = None,
        host_unit: str | None = None,
        sector: str | None = None,
    ) -> Evaluation:
        """The phase evaluation leadership reads."""
        filters = Filters(home_unit=home_unit, host_unit=host_unit, sector=sector)
        return await phase_evaluation(ports, phase_id, as_of, filters)

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
