"""RFC 9457 problem details for every refusal, titled in Vietnamese unless English is asked."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.authz import Forbidden
from shared.contract.rules import RULES, RuleCode
from shared.seedwork.errors import DomainError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://secondment.quangnam.gov.vn/problems/"


def wants_english(request: Request) -> bool:
    """English when the client's first language choice is English; Vietnamese otherwise."""
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].strip().lower()
    return first.startswith("en")


def problem(
    request: Request,
    rule: RuleCode,
    detail: str,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response for one rule code."""
    info = RULES[rule]
    body: dict[str, Any] = {
        "type": TYPE_BASE + rule.value.lower().replace("_", "-"),
        "title": info.title_en if wants_english(request) else info.title_vi,
        "status": status or info.status,
        "detail": detail,
        "instance": request.url.path,
        "rule": rule.value,
    }
    # Extension members never shadow the standard ones.
    body.update({k: v for k, v in (extra or {}).items() if v is not None and k not in body})
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Turn domain errors, validation errors and HTTP errors into problem details."""

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        headers = None
        if exc.rule is RuleCode.NEED_NOT_YET_KNOWN:
            headers = {"Retry-After": "2"}
        elif exc.rule is RuleCode.UNAUTHENTICATED:
            headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        params = {
            k: (str(v) if not isinstance(v, int | str | list) else v) for k, v in exc.params.items()
        }
        return problem(request, exc.rule, exc.detail, headers=headers, extra=params)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return problem(
            request,
            RuleCode.INVALID_REQUEST,
            "the request body or parameters are not valid",
            extra={"errors": errors},
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        rule = RuleCode.NOT_FOUND if exc.status_code == 404 else RuleCode.INVALID_REQUEST
        return problem(request, rule, str(exc.detail), status=exc.status_code)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        body = {
            "type": "about:blank",
            "title": "Lỗi hệ thống" if not wants_english(request) else "Internal error",
            "status": 500,
            "detail": "the server failed; nothing was changed unless the request is retried",
            "instance": request.url.path,
        }
        return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)

    async def on_forbidden(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Forbidden)
        return problem(request, RuleCode.FORBIDDEN, str(exc), extra={"action": exc.action.value})

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(Forbidden, on_forbidden)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
