"""The reporting pages' Jinja templates (dashboard, planner, sign-in), with the filters that
show figures and dates as the dashboard does: one environment, so every page formats alike."""

from pathlib import Path

from fastapi.templating import Jinja2Templates

from services.reporting.entrypoints.i18n import format_date, format_number, format_percent

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters["num"] = format_number
TEMPLATES.env.filters["pct"] = format_percent
TEMPLATES.env.filters["vdate"] = format_date
