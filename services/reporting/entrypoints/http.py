"""HTTP API of the reporting service (`/api/reports`), its exports and the dashboard (`/`)."""

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.concurrency import run_in_threadpool

from services.reporting.adapters.sessions import SignedOutSessions
from services.reporting.domain.evaluation import Evaluation, Filters, Rollup
from services.reporting.entrypoints import exports
from services.reporting.entrypoints.exports import group_name
from services.reporting.entrypoints.i18n import LABELS
from services.reporting.entrypoints.login import (
    build_login_router,
    csrf_token,
    login_redirect,
    with_csrf,
)
from services.reporting.entrypoints.planner import build_planner_router
from services.reporting.entrypoints.review import review_file
from services.reporting.entrypoints.templating import TEMPLATES
from services.reporting.entrypoints.throttle import LoginThrottle
from services.reporting.service_layer.ports import ReportingPorts
from services.reporting.service_layer.reports import (
    Alerts,
    Comparison,
    alerts,
    compare,
    find_phase,
    phase_evaluation,
)
from services.reporting.service_layer.review import phase_review
from shared.authz import Action, Principal, Scope, authorize
from shared.clock import today
from shared.http.audit import audited
from shared.http.auth import PrincipalDep, Unauthenticated, session_principal
from shared.http.problems import problem_responses
from shared.infra.audit_entries import Category
from shared.phases import Phase
from shared.reference import reference_data
from shared.seedwork.errors import NotFound

AsOf = Annotated[
    dt.date | None,
    Query(description="Status at the end of this date; default today (Viet Nam)."),
]
RollupQuery = Annotated[
    Rollup, Query(description="`successor`: units grouped under their roll-up unit.")
]
EXPORT_EVALUATION = "ExportEvaluation"
"""Audit action of an evaluation export (CSV, XLSX, PDF)."""
EXPORT_REVIEW = "ExportPhaseReview"
"""Audit action of a download of the written phase review (PDF, DOCX)."""

Lang = Annotated[Literal["vi", "en"], Query(description="Language of labels (exports).")]

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"chart.umd.min.js": "text/javascript"}
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def _reader(who: Principal) -> bool:
    """Allow report readers; True when they may also see unsuppressed ethnicity counts."""
    authorize(who, Action.READ_REPORTS)
    return who.has(Scope.REPORTS_SENSITIVE)


def build_router(
    ports: ReportingPorts,
    database: async_sessionmaker[AsyncSession],
    login_throttle: LoginThrottle | None = None,
) -> APIRouter:
    """Routes bound to one running reporting service (its database keeps the sessions signed
    out; and its sign-in throttle)."""
    router = APIRouter(tags=["reports"], responses=problem_responses(401, 403, 404, 422))
    sessions = SignedOutSessions(database)
    router.include_router(build_login_router(sessions, login_throttle))

    async def session_reader(request: Request) -> Principal:
        # The sign-in cookie is good for reading the dashboard and the exports, nothing else.
        return await session_principal(request, sessions)

    router.include_router(build_planner_router(ports, session_reader))

    @router.get("/api/reports/phases", response_model=list[Phase])
    async def phases(who: PrincipalDep) -> list[Phase]:
        """The phases of the plan with their duration caps."""
        _reader(who)
        return list(ports.phases)

    @router.get("/api/reports/phases/{phase_id}/evaluation", response_model=Evaluation)
    async def evaluation(
        phase_id: str,
        who: PrincipalDep,
        as_of: AsOf = None,
        home_unit: str | None = None,
        host_unit: str | None = None,
        sector: str | None = None,
        rollup: RollupQuery = "none",
    ) -> Evaluation:
        """The phase evaluation leadership reads."""
        sensitive = _reader(who)
        filters = Filters(home_unit=home_unit, host_unit=host_unit, sector=sector)
        return await phase_evaluation(ports, phase_id, as_of, filters, rollup, sensitive=sensitive)

    @router.get(
        "/api/reports/phases/{phase_id}/evaluation.{fmt}",
        response_class=Response,
        responses={200: {"content": {MEDIA[f]: {} for f in ("csv", "xlsx", "pdf")}}},
    )
    @audited(EXPORT_EVALUATION, Category.EXPORT)
    async def evaluation_export(
        phase_id: str,
        who: Annotated[Principal, Depends(session_reader)],
        fmt: Literal["csv", "xlsx", "pdf"],
        as_of: AsOf = None,
        home_unit: str | None = None,
        host_unit: str | None = None,
        sector: str | None = None,
        rollup: RollupQuery = "none",
        lang: Lang = "vi",
    ) -> Response:
        """The evaluation as CSV, XLSX or the PDF phase-review report (same parameters)."""
        sensitive = _reader(who)
        filters = Filters(home_unit=home_unit, host_unit=host_unit, sector=sector)
        ev = await phase_evaluation(ports, phase_id, as_of, filters, rollup, sensitive=sensitive)
        if fmt == "csv":
            body = exports.to_csv(ev, lang)
        elif fmt == "xlsx":
            body = exports.to_xlsx(ev, lang)
        else:
            body = exports.to_pdf(ev, lang, generated_on=today())
        name = f"danh-gia-{ev.phase_id}-{ev.as_of.isoformat()}.{fmt}"
        return Response(
            body,
            media_type=MEDIA[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get(
        "/api/reports/phases/{phase_id}/review.{fmt}",
        response_class=Response,
        responses={200: {"content": {MEDIA["pdf"]: {}, MEDIA["docx"]: {}}}},
    )
    @audited(EXPORT_REVIEW, Category.EXPORT)
    async def review_export(
        phase_id: str,
        who: Annotated[Principal, Depends(session_reader)],
        fmt: Literal["pdf", "docx"],
        as_of: AsOf = None,
        home_unit: str | None = None,
        host_unit: str | None = None,
        sector: str | None = None,
        rollup: RollupQuery = "none",
    ) -> Response:
        """The written phase review in Vietnamese (PDF, or DOCX to edit before signing): the
        evaluation's figures with charts, tables per locality, findings, a signature block."""
        sensitive = _reader(who)
        filters = Filters(home_unit=home_unit, host_unit=host_unit, sector=sector)
        figures = await phase_review(ports, phase_id, as_of, filters, rollup, sensitive=sensitive)
        body = await run_in_threadpool(review_file, figures, fmt, today())
        ev = figures.evaluation
        name = f"bao-cao-danh-gia-{ev.phase_id}-{ev.as_of.isoformat()}.{fmt}"
        return Response(
            body,
            media_type=MEDIA[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get("/api/reports/compare", response_model=Comparison)
    async def comparison(
        who: PrincipalDep,
        phases: Annotated[str, Query(description="Two phase ids, comma-separated.")],
        as_of: AsOf = None,
        home_unit: str | None = None,
        host_unit: str | None = None,
        sector: str | None = None,
        rollup: RollupQuery = "none",
    ) -> Comparison:
        """Two phases evaluated as of the same date, side by side, with differences."""
        sensitive = _reader(who)
        filters = Filters(home_unit=home_unit, host_unit=host_unit, sector=sector)
        ids = [p.strip() for p in phases.split(",") if p.strip()]
        return await compare(ports, ids, as_of, filters, rollup, sensitive=sensitive)

    @router.get("/api/reports/alerts", response_model=Alerts)
    async def alert_list(
        who: PrincipalDep,
        as_of: AsOf = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Alerts:
        """Secondments ending within 30 days, overdue ones, needs open 60 days or more."""
        _reader(who)
        return await alerts(ports, as_of, limit)

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        """Vendored chart code (never a CDN)."""
        if name not in STATIC_FILES:
            raise NotFound("file", name)
        return FileResponse(
            STATIC / name,
            media_type=STATIC_FILES[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @router.get("/", response_class=HTMLResponse, include_in_schema=False, response_model=None)
    async def dashboard(
        request: Request,
        phase: str | None = None,
        as_of: dt.date | None = None,
        home_unit: str | None = None,
        host_unit: str | None = None,
        sector: str | None = None,
        rollup: str = "successor",
        lang: str = "vi",
    ) -> Response:
        """The leadership dashboard, Vietnamese first; anonymous visitors sign in first."""
        try:
            who = await session_reader(request)
        except Unauthenticated:
            return login_redirect(request)
        sensitive = _reader(who)
        lang = "en" if lang == "en" else "vi"
        roll: Rollup = "none" if rollup == "none" else "successor"
        day = as_of or today()
        chosen = find_phase(ports, phase or ports.phases[0].phase_id)
        filters = Filters(
            home_unit=home_unit or None, host_unit=host_unit or None, sector=sector or None
        )
        ev = await phase_evaluation(ports, chosen.phase_id, day, filters, roll, sensitive=sensitive)
        others = [
            await phase_evaluation(ports, p.phase_id, day, filters, roll, sensitive=sensitive)
            if p.phase_id != chosen.phase_id
            else ev
            for p in ports.phases
        ]
        alert = await alerts(ports, day, limit=10)
        timeline = await ports.queries.monthly(chosen, day, filters, rollup=roll)
        t = LABELS[lang]
        params = {
            "phase": chosen.phase_id,
            "as_of": day.isoformat(),
            "home_unit": filters.home_unit or "",
            "host_unit": filters.host_unit or "",
            "sector": filters.sector or "",
            "rollup": roll,
        }
        csrf = csrf_token(request)
        page = TEMPLATES.TemplateResponse(
            request,
            "dashboard.html",
            {
                "csrf": csrf,
                "ev": ev,
                "chosen": chosen,
                "phases": ports.phases,
                "t": t,
                "lang": lang,
                "params": params,
                "alerts": alert,
                "name": lambda dim, code: group_name(dim, code, lang),
                "choices": _choices(lang),
                "charts": json.dumps(
                    _charts(ev, others, timeline, lang), ensure_ascii=False
                ).replace("</", "<\\/"),
                "export_query": "&".join(f"{k}={v}" for k, v in params.items() if v)
                + f"&lang={lang}",
                "review_query": "&".join(
                    f"{k}={v}" for k, v in params.items() if v and k != "phase"
                ),
            },
        )
        return with_csrf(page, csrf)

    return router


def _choices(lang: str) -> dict[str, list[tuple[str, str]]]:
    ref = reference_data()
    en = lang == "en"
    homes = [
        u
        for u in ref.units()
        if u.mountainous and u.kind in ("DISTRICT", "COMMUNE", "OTHER") and not u.illustrative
    ]
    hosts = [u for u in ref.units() if u.kind == "DEPARTMENT"]
    return {
        "home_unit": [(u.code, u.name_en if en else u.name) for u in homes],
        "host_unit": [(u.code, u.name_en if en else u.name) for u in hosts],
        "sector": [(s.code, s.name_en if en else s.name) for s in ref.sectors()],
    }


def _charts(
    ev: Evaluation, phases: list[Evaluation], timeline: list[tuple[str, int, int]], lang: str
) -> dict[str, Any]:
    t = LABELS[lang]
    measures = ("started", "active", "ended", "completed", "terminated_early")
    active, cumulative = [], 0
    for _, started, ended in timeline:
        cumulative += started - ended
        active.append(cumulative)
    return {
        "compare": {
            "labels": [t[m] for m in (*measures, "promoted")],
            "datasets": [
                {
                    "label": p.phase_id,
                    "data": [getattr(p.secondments, m) for m in measures] + [p.promoted],
                }
                for p in phases
            ],
        },
        "district": {
            "labels": [group_name("home_unit", c, lang) for c in ev.by_home_unit],
            "datasets": [
                {
                    "label": t[m],
                    "data": [getattr(g.secondments, m) for g in ev.by_home_unit.values()],
                }
                for m in ("started", "active", "ended")
            ],
        },
        "outcomes": {
            "labels": [t[a] for a in ev.post_arrangements],
            "data": list(ev.post_arrangements.values()),
        },
        "timeline": {
            "labels": [m for m, _, _ in timeline],
            "datasets": [
                {"label": t["started"], "data": [s for _, s, _ in timeline]},
                {"label": t["ended"], "data": [e for _, _, e in timeline]},
                {"label": t["active"], "data": active},
            ],
        },
        "plans": _plan_chart(ev, lang),
        "locale": "vi-VN" if lang == "vi" else "en-GB",
    }


def _plan_chart(ev: Evaluation, lang: str) -> dict[str, Any]:
    """The province first, then each locality with a plan: planned over the phase, the pace
    by the day and the secondments started (docs/reporting.md, Plans)."""
    t = LABELS[lang]
    plans = ev.plans
    if plans is None:
        return {"labels": [], "datasets": []}
    rows = [(t["province"], plans.province)] + [
        (group_name("home_unit", code, lang), row) for code, row in plans.localities.items()
    ]
    return {
        "labels": [label for label, _ in rows],
        "datasets": [
            {"label": t[m], "data": [getattr(row, m) for _, row in rows]}
            for m in ("planned", "expected_to_date", "seconded")
        ],
    }
