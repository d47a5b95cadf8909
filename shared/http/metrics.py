"""`GET /metrics` and the middleware counting HTTP requests and commands (`shared.infra.metrics`).

`MetricsMiddleware` (outermost, so it sees every answer: 413s, audit 503s, replays) counts each
request by its route *template* (never the path: ids stay out of the labels) and status, and
each command (a route marked `@audited` as a command) by its action, outcome and, when refused,
the problem's rule code. The service of a route is the one whose router declared it; routes
every app serves (health, audit, reference data, contract) carry the app's own label.

`/metrics` needs no token, like `/healthz`: it names no record and no person. Each scrape
first reads what is cheap to read then and never worth reading on a command's path: the
readiness checks (`secondment_ready`) and each service's outbox backlog.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contract.rules import RuleCode
from shared.http.audit import audit_spec
from shared.infra import metrics
from shared.infra.audit_entries import Category

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
Scraper = Callable[[], Awaitable[None]]
"""Reads something when `/metrics` is scraped (e.g. an outbox's backlog)."""

SCRAPE_WITHIN = 5.0
"""Seconds a scrape waits for the readiness checks and the outbox reads; beyond, not ready."""
MAX_PROBLEM_BYTES = 64 * 1024
RULE_CODES = frozenset(code.value for code in RuleCode)
UNMATCHED = "unmatched"
"""The route label of a request no route matched (the path itself could carry anything)."""


async def all_ready(checks: Sequence[ReadinessCheck]) -> bool:
    """True when every check answers True; any failure means not ready."""
    for check in checks:
        try:
            ok = await check()
        except Exception:  # noqa: BLE001 - any failure means not ready
            ok = False
        if not ok:
            return False
    return True


def install_metrics(
    app: FastAPI,
    service: str,
    readiness: Sequence[ReadinessCheck],
    scrapers: Sequence[Scraper] = (),
    route_services: Mapping[Callable[..., Any], str] | None = None,
) -> None:
    """Serve `GET /metrics` (not in the OpenAPI document) and count the app's requests;
    `route_services` names the service of each endpoint, the others are `service`'s."""
    app.state.metrics_service = service
    app.state.metrics_routes = dict(route_services or {})
    app.add_middleware(MetricsMiddleware)

    @app.get("/metrics", include_in_schema=False)
    async def scrape() -> Response:
        ready = False
        try:
            async with asyncio.timeout(SCRAPE_WITHIN):
                ready = await all_ready(readiness)
                for read in scrapers:
                    with contextlib.suppress(Exception):
                        await read()
        except TimeoutError:
            log.warning("/metrics: readiness or outbox reads took over %.0f s", SCRAPE_WITHIN)
        metrics.observe_ready(service, ready)
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


class MetricsMiddleware:
    """ASGI middleware: counts requests and commands as they are answered (nothing buffered
    but the body of a refusal, to read its rule code)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": 500, "problem": bytearray(), "replayed": False}

        async def watching(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                answer["replayed"] = headers.get(b"idempotent-replayed") == b"true"
            elif message["type"] == "http.response.body" and answer["status"] >= 400:
                problem: bytearray = answer["problem"]
                if len(problem) < MAX_PROBLEM_BYTES:
                    problem.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except Exception:
            answer["status"] = 500
            _count(scope, answer, time.perf_counter() - started)
            raise
        _count(scope, answer, time.perf_counter() - started)


def _count(scope: Scope, answer: dict[str, Any], seconds: float) -> None:
    try:
        app = scope.get("app")
        state = app.state if app is not None else None
        route = scope.get("route")
        endpoint = getattr(route, "endpoint", None)
        template = getattr(route, "path", None) or UNMATCHED
        routes: dict[Any, str] = getattr(state, "metrics_routes", {})
        service = routes.get(endpoint) or str(getattr(state, "metrics_service", "app"))
        status: int = answer["status"]
        method = scope.get("method", "OTHER")
        metrics.HTTP_REQUESTS.labels(service, method, template, str(status)).inc()
        spec = audit_spec(endpoint)
        if spec is None or spec.category is not Category.COMMAND:
            return
        rule = _rule(answer["problem"]) if 400 <= status < 500 else None
        if status >= 500:
            outcome = "error"
        elif status >= 400:
            outcome = "refused"
        elif answer["replayed"]:
            outcome = "replayed"
        else:
            outcome = "accepted"
        metrics.observe_command(service, "http", spec.action, outcome, rule, seconds)
    except Exception:  # counting never breaks an answer
        log.warning("could not count a request", exc_info=True)


def _rule(body: bytes | bytearray) -> str | None:
    """The rule code of a problem+json body (a code from `RuleCode`, or None)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    rule = parsed.get("rule") if isinstance(parsed, dict) else None
    return rule if isinstance(rule, str) and rule in RULE_CODES else None
