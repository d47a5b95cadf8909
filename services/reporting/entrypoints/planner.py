"""The next-phase planner over HTTP: `POST /api/reports/phases/{phase_id}/plan-proposals`
(report readers) and the dashboard's page `/planner` (Vietnamese first). Saving the proposal
as locality plans is the placement service's `/api/plans`, called by the user's browser with
a `plans:write` token the user pastes; this service only prepares the requests
(docs/reporting.md, "Planner")."""

import json
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from services.reporting.entrypoints.exports import group_name
from services.reporting.entrypoints.login import csrf_token, login_redirect, with_csrf
from services.reporting.entrypoints.templating import TEMPLATES
from services.reporting.service_layer.planner import PlannerAnswer, PlannerRequest, plan_proposal
from services.reporting.service_layer.ports import ReportingPorts
from shared.authz import Action, Principal, authorize
from shared.clock import today
from shared.http.auth import PrincipalDep, Unauthenticated
from shared.seedwork.errors import DomainError

PLANS_PATH = "/api/plans"
"""The placement service's plans API: the page posts there when this app serves it too."""

LABELS: Final[dict[str, dict[str, str]]] = {
    "vi": {
        "title": "Đề xuất kế hoạch biệt phái giai đoạn sau",
        "back": "Về trang đánh giá",
        "switch": "English",
        "phase": "Giai đoạn lập kế hoạch",
        "provisional": "tạm tính, chờ lãnh đạo xác nhận",
        "based_on": "Căn cứ kết quả giai đoạn",
        "as_of": "tính đến ngày",
        "target_officials": "Số cán bộ cần biệt phái thêm đến hết giai đoạn",
        "target_share": "Hoặc tỷ lệ cán bộ đủ điều kiện đã qua biệt phái (%)",
        "min_per_year": "Tối thiểu mỗi địa phương mỗi năm",
        "max_per_year": "Tối đa mỗi địa phương mỗi năm",
        "decision_number": "Số quyết định (để lưu)",
        "decision_date": "Ngày quyết định",
        "reason": "Lý do điều chỉnh (kế hoạch đã có)",
        "propose": "Đề xuất",
        "locality": "Địa phương",
        "area": "Địa bàn (giai đoạn trước)",
        "eligible": "Số cán bộ đủ điều kiện",
        "history": "Đã cử / kết thúc / được bổ nhiệm (giai đoạn trước)",
        "per_capacity": "Số lượt cử trên một đơn vị năng lực",
        "promotion_rate": "Tỷ lệ được bổ nhiệm",
        "throughput_index": "Hệ số kết quả cử",
        "promotion_index": "Hệ số bổ nhiệm",
        "weight": "Trọng số",
        "share": "Tỷ trọng",
        "total": "Tổng",
        "year_weight": "Trọng số năm",
        "province": "Toàn tỉnh",
        "no_history": "chưa có (coi như bình quân)",
        "assumptions": "Giả định và quy tắc phân bổ",
        "rule": (
            "Trọng số của mỗi địa phương = năng lực (số cán bộ đủ điều kiện; nếu chưa nhập đủ "
            "cho mọi địa phương thì mỗi địa phương tính là 1) × hệ số kết quả cử × hệ số bổ "
            "nhiệm. Hai hệ số so sánh địa bàn với bình quân toàn tỉnh ở giai đoạn trước (số "
            "lượt cử trên năng lực; tỷ lệ được bổ nhiệm), giới hạn trong khoảng {low}–{high}; "
            "địa bàn chưa có số liệu tính hệ số 1. Trọng số năm: 1, riêng năm đầu trừ đi phần "
            "năm cần để đáp ứng một nhu cầu (trung vị {ttf} ngày), không dưới 0,5. Chỉ tiêu "
            "được chia theo trọng số địa phương × năm, trong giới hạn tối thiểu/tối đa, làm "
            "tròn theo phần dư lớn nhất; tổng luôn đúng bằng chỉ tiêu."
        ),
        "capacity_equal": "Chưa đủ số cán bộ đủ điều kiện: mỗi địa phương tính năng lực 1.",
        "capacity_known": "Năng lực theo số cán bộ đủ điều kiện đã nhập.",
        "target_from_share": (
            "Chỉ tiêu từ tỷ lệ: ⌈{share} × {eligible}⌉ − {seconded} cán bộ đã biệt phái ở "
            "giai đoạn trước = {n}."
        ),
        "excluded": "Không thuộc diện miền núi trong giai đoạn (không lập kế hoạch)",
        "above_eligible": "Đề xuất vượt số cán bộ đủ điều kiện",
        "existing": "Đã có kế hoạch (sẽ điều chỉnh)",
        "save": "Lưu thành kế hoạch của các địa phương",
        "save_note": (
            "Kế hoạch do dịch vụ bố trí (placement) quản lý: trình duyệt gửi từng kế hoạch tới "
            "/api/plans bằng mã truy cập có quyền plans:write (của Sở Nội vụ hoặc của địa "
            "phương). Mã chỉ dùng trên trang này, không được lưu."
        ),
        "token": "Mã truy cập (plans:write)",
        "save_elsewhere": (
            "Dịch vụ bố trí không cùng địa chỉ với trang này: tải các yêu cầu và gửi bằng lệnh "
            "trong tài liệu (docs/reporting.md, mục Planner)."
        ),
        "download": "Tải các yêu cầu (JSON)",
        "need_decision": "Nhập số và ngày quyết định để lưu thành kế hoạch.",
        "error": "Không lập được đề xuất",
    },
    "en": {
        "title": "Next-phase secondment plan proposal",
        "back": "Back to the evaluation",
        "switch": "Tiếng Việt",
        "phase": "Phase to plan",
        "provisional": "provisional, awaiting leadership's confirmation",
        "based_on": "Based on the outcomes of phase",
        "as_of": "as of",
        "target_officials": "More officials to second by the phase's end",
        "target_share": "Or share of eligible officials with a secondment (%)",
        "min_per_year": "Minimum per locality per year",
        "max_per_year": "Maximum per locality per year",
        "decision_number": "Decision number (to save)",
        "decision_date": "Decision date",
        "reason": "Amendment reason (existing plans)",
        "propose": "Propose",
        "locality": "Locality",
        "area": "Area (previous phase)",
        "eligible": "Eligible officials",
        "history": "Seconded / ended / promoted (previous phase)",
        "per_capacity": "Secondments per unit of capacity",
        "promotion_rate": "Promotion rate",
        "throughput_index": "Throughput index",
        "promotion_index": "Promotion index",
        "weight": "Weight",
        "share": "Share",
        "total": "Total",
        "year_weight": "Year weight",
        "province": "Province",
        "no_history": "none (province average assumed)",
        "assumptions": "Assumptions and allocation rule",
        "rule": (
            "A locality's weight = capacity (its eligible officials; 1 each unless every "
            "locality's is given) × throughput index × promotion index. The indices compare "
            "its area with the province in the previous phase (secondments per capacity; "
            "promotion rate), clamped to {low}–{high}; an area without history gets 1. Year "
            "weight: 1, the first year less the share of a year a need took to fill (median "
            "{ttf} days), at least 0.5. The target is split by locality × year weight within "
            "the minimum/maximum and rounded by largest remainder; it always adds up exactly."
        ),
        "capacity_equal": "Eligible officials not given for every locality: capacity 1 each.",
        "capacity_known": "Capacity from the eligible officials entered.",
        "target_from_share": (
            "Target from the share: ⌈{share} × {eligible}⌉ − {seconded} officials seconded in "
            "the previous phase = {n}."
        ),
        "excluded": "Not mountainous during the phase (no plan)",
        "above_eligible": "Proposed above the eligible officials",
        "existing": "Has a plan (amended)",
        "save": "Save as the localities' plans",
        "save_note": (
            "Plans belong to the placement service: your browser posts each to /api/plans with "
            "an access token holding plans:write (Home Affairs', or the locality's). The token "
            "is used on this page only, never stored."
        ),
        "token": "Access token (plans:write)",
        "save_elsewhere": (
            "The placement service is not served at this address: download the requests and "
            "send them with the command of docs/reporting.md (Planner)."
        ),
        "download": "Download the requests (JSON)",
        "need_decision": "Enter the decision number and date to save as plans.",
        "error": "No proposal",
    },
}


def _serves_plans(request: Request) -> bool:
    """Whether this app also serves the placement service's `/api/plans` (the embedded
    default): only then can the page post there (same origin, the page's CSP). Read from
    the app's OpenAPI document (built once and cached by FastAPI)."""
    return PLANS_PATH in request.app.openapi().get("paths", {})


def _command(query: Any) -> PlannerRequest:
    """The page's form as the API's body (empty fields left out)."""

    def value(name: str) -> str | None:
        text = str(query.get(name, "")).strip()
        return text or None

    share = value("target_share")
    number, date = value("decision_number"), value("decision_date")
    body: dict[str, Any] = {
        "target_officials": value("target_officials"),
        "target_share": None if share is None else float(share.replace(",", ".")) / 100,
        "eligible_officials": {
            k[2:]: v for k, v in query.items() if k.startswith("e_") and str(v).strip()
        },
        "min_per_year": value("min_per_year") or 0,
        "max_per_year": value("max_per_year"),
        "as_of": value("as_of"),
        "decision": {"number": number, "date": date} if number and date else None,
        "reason": value("reason"),
    }
    if body["target_officials"] is None and share is None:
        body["target_officials"] = 0
    return PlannerRequest.model_validate(body)


def build_planner_router(
    ports: ReportingPorts, session_reader: Callable[[Request], Awaitable[Principal]]
) -> APIRouter:
    """The planner's API route and page."""
    router = APIRouter(tags=["reports"])

    @router.post("/api/reports/phases/{phase_id}/plan-proposals", response_model=PlannerAnswer)
    async def proposal(phase_id: str, cmd: PlannerRequest, who: PrincipalDep) -> PlannerAnswer:
        """A secondment plan per locality and year for the phase, from the phase before it and
        a target; with its assumptions, and the `/api/plans` requests that would save it (sent
        by someone holding `plans:write`: this service writes no plan)."""
        authorize(who, Action.READ_REPORTS)
        return await plan_proposal(ports, phase_id, cmd)

    @router.get("/planner", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request, phase: str = "2026-2030", lang: str = "vi") -> Response:
        """The planner page: the form, the proposal table, its assumptions, and saving."""
        try:
            who = await session_reader(request)
        except Unauthenticated:
            return login_redirect(request)
        authorize(who, Action.READ_REPORTS)
        lang = "en" if lang == "en" else "vi"
        answer: PlannerAnswer | None = None
        error = None
        try:
            answer = await plan_proposal(ports, phase, _command(request.query_params))
        except DomainError as e:
            error = f"{e.rule.value}: {e.detail}"
        except ValidationError as e:
            error = "; ".join(
                f"{'.'.join(str(p) for p in x['loc']) or 'form'}: {x['msg']}" for x in e.errors()
            )
        except ValueError as e:  # a share that is not a number
            error = str(e)
        query = {k: v for k, v in request.query_params.items() if k != "lang"}
        csrf = csrf_token(request)
        response = TEMPLATES.TemplateResponse(
            request,
            "planner.html",
            {
                "t": LABELS[lang],
                "lang": lang,
                "phase": phase,
                "a": answer,
                "error": error,
                "q": query,
                "switch_query": urlencode(query),
                "name": lambda code: group_name("home_unit", code, lang),
                "same_origin": _serves_plans(request),
                "requests": json.dumps(
                    [r.model_dump(mode="json") for r in answer.requests] if answer else [],
                    ensure_ascii=False,
                ).replace("</", "<\\/"),
                "today": today().isoformat(),
            },
        )
        return with_csrf(response, csrf)

    return router
