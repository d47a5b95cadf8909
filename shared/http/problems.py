"""RFC 9457 problem details for every refusal, titled in Vietnamese unless English is asked."""

import logging
import socket
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.authz import Forbidden
from shared.contract.rules import RULES, RuleCode
from shared.infra.db import unavailable
from shared.seedwork.errors import DomainError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://secondment.quangnam.gov.vn/problems/"

PROBLEM_MEMBERS: dict[str, Any] = {
    "type": {"type": "string"},
    "title": {"type": "string"},
    "status": {"type": "integer"},
    "detail": {"type": "string"},
    "instance": {"type": "string"},
}
"""The RFC 9457 members of every problem body, as JSON Schema properties."""

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `rule` is the stable refusal code (docs/rules.md).",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        **PROBLEM_MEMBERS,
        "rule": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "What was invalid, for `INVALID_REQUEST`.",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
"""JSON Schema of every problem body `problem()` and the handlers below answer; the
`Problem` component of each app's OpenAPI document (`install_problem_handlers`)."""

_PROBLEM_STATUSES: dict[int, str] = {
    401: "No valid bearer token (rule `UNAUTHENTICATED`); `WWW-Authenticate` says why.",
    403: "The token's agency or scopes may not do this (rule `FORBIDDEN`).",
    404: "No record with that id (rule `NOT_FOUND`).",
    409: "The record's state forbids this now (e.g. `NEED_FULL`, `LIFECYCLE_ORDER`).",
    422: "Invalid request or a plan rule refused it (e.g. `INVALID_REQUEST`, `UNKNOWN_CODE`).",
    503: "Not now: retry after `Retry-After` seconds, with the same `Idempotency-Key` "
    "(`NEED_NOT_YET_KNOWN`; or the service's database is unreachable for a moment).",
}


UNAVAILABLE_RETRY_AFTER = "2"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` documenting problem answers (all of them when none is named)."""
    return {
        status: {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, description in _PROBLEM_STATUSES.items()
        if not statuses or status in statuses
    }


PROBLEM_RESPONSES = problem_responses()
"""Every problem answer an API route may give: `APIRouter(responses=PROBLEM_RESPONSES)`."""


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
        if exc.status_code == 400:
            # FastAPI's "error parsing the body" (e.g. not UTF-8): invalid like malformed JSON.
            return problem(request, RuleCode.INVALID_REQUEST, str(exc.detail))
        rule = {404: RuleCode.NOT_FOUND, 413: RuleCode.REQUEST_TOO_LARGE}.get(
            exc.status_code, RuleCode.INVALID_REQUEST
        )
        return problem(request, rule, str(exc.detail), status=exc.status_code)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if unavailable(exc):  # raised in a middleware (e.g. an idempotency lookup)
            return await on_storage_error(request, exc)
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        body = {
            "type": "about:blank",
            "title": "Lỗi hệ thống" if not wants_english(request) else "Internal error",
            "status": 500,
            "detail": "the server failed; nothing was changed unless the request is retried",
            "instance": request.url.path,
        }
        return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)

    async def on_storage_error(request: Request, exc: Exception) -> JSONResponse:
        """Registered for the database's and the network's exception classes (not only as
        the catch-all, which Starlette re-raises into a logged traceback)."""
        if not unavailable(exc):
            return await on_unexpected(request, exc)
        # Expected while the database restarts or fails over: one line, a 503 to retry.
        log.warning("database unavailable on %s: %s", request.url.path, type(exc).__name__)
        body = {
            "type": "about:blank",
            "title": "Tạm thời gián đoạn" if not wants_english(request) else "Unavailable",
            "status": 503,
            "detail": "the database could not be reached; send the same request again with "
            "the same Idempotency-Key after Retry-After seconds (it is applied once)",
            "instance": request.url.path,
        }
        return JSONResponse(
            body,
            status_code=503,
            media_type=PROBLEM_JSON,
            headers={"Retry-After": UNAVAILABLE_RETRY_AFTER},
        )

    async def on_forbidden(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Forbidden)
        return problem(request, RuleCode.FORBIDDEN, str(exc), extra={"action": exc.action.value})

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(Forbidden, on_forbidden)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    for storage_error in (sa_exc.DBAPIError, sa_exc.TimeoutError, ConnectionError, socket.gaierror):
        app.add_exception_handler(storage_error, on_storage_error)
    app.add_exception_handler(Exception, on_unexpected)
    _document_problems(app)


def _document_problems(app: FastAPI) -> None:
    """Add the `Problem` schema that `problem_responses()` refer to to the app's OpenAPI."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("Problem", PROBLEM_SCHEMA)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
