"""Application factory: one FastAPI app from one or more services' parts."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from shared.http.audit import AuditMiddleware, build_audit_router
from shared.http.auth import TokenVerifier
from shared.http.contract_api import build_contract_router
from shared.http.headers import SecurityHeadersMiddleware
from shared.http.idempotency import IdempotencyMiddleware
from shared.http.limits import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware
from shared.http.metrics import Scraper, all_ready, install_metrics
from shared.http.problems import install_problem_handlers
from shared.http.reference_api import build_reference_router
from shared.infra import tracing
from shared.infra.answers import CommandAnswers
from shared.infra.audit import AuditLog
from shared.infra.metrics import observe_outbox
from shared.infra.runtime import ServiceRuntime
from shared.infra.transport import Transport

ReadinessCheck = Callable[[], Awaitable[bool]]


def create_app(
    *,
    title: str,
    routers: Sequence[APIRouter],
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    readiness: Sequence[ReadinessCheck] = (),
    verifier: TokenVerifier | None = None,
    answer_stores: Sequence[tuple[str, CommandAnswers]] = (),
    audit: AuditLog | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    metrics_service: str = "app",
    scrapers: Sequence[Scraper] = (),
    route_services: dict[Callable[..., Any], str] | None = None,
) -> FastAPI:
    """Wire routers, problem handlers, `/healthz` (alive), `/readyz` (dependencies up) and
    `/metrics` (`shared.http.metrics`: labelled `metrics_service`, each endpoint of
    `route_services` with its own service; `scrapers` read the outboxes when scraped).

    Without a verifier no token is trusted: every protected route answers 401.
    `answer_stores` (path prefix, store) remember the answers to POST and PATCH requests
    carrying an `Idempotency-Key` (`shared.http.idempotency`). `audit` is the deployment's
    audit store: every request is audited (`shared.http.audit`) and `GET /api/audit` reads it.
    A body over `max_body_bytes` is refused with 413 before anything buffers it
    (`shared.http.limits`).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if audit is not None:
            await audit.start()
        try:
            await start()
            try:
                yield
            finally:
                await stop()
        finally:
            if audit is not None:
                await audit.stop()

    app = FastAPI(title=title, version="1.0.0", lifespan=lifespan)
    app.state.verifier = verifier or TokenVerifier([])
    app.state.answer_stores = list(answer_stores)
    app.state.audit = audit
    install_problem_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)  # before anything reads
    app.add_middleware(AuditMiddleware)  # sees replays and every refusal
    app.add_middleware(SecurityHeadersMiddleware)  # on every answer, 413s too
    if audit is not None:
        readiness = [*readiness, audit.ready]
    install_metrics(app, metrics_service, readiness, scrapers, route_services)  # outermost

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    async def readyz() -> JSONResponse | dict[str, str]:
        if not await all_ready(readiness):
            return JSONResponse({"status": "not ready"}, status_code=503)
        return {"status": "ready"}

    for router in routers:
        app.include_router(router)
    app.include_router(build_reference_router())
    if audit is not None:
        app.include_router(build_audit_router())
    app.include_router(build_contract_router())
    return app


class RunningService(Protocol):
    """What a service's bootstrap object offers to the app factory."""

    @property
    def routers(self) -> list[APIRouter]: ...

    async def migrate(self) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> bool: ...


def answer_stores(
    services: Sequence[RunningService], routers: Sequence[Sequence[APIRouter]]
) -> list[tuple[str, CommandAnswers]]:
    """(prefix, store) for every router of a service that remembers its answers (`answers`)."""
    out: list[tuple[str, CommandAnswers]] = []
    for service, its_routers in zip(services, routers, strict=True):
        store = getattr(service, "answers", None)
        if isinstance(store, CommandAnswers):
            out.extend((r.prefix, store) for r in its_routers if r.prefix)
    return out


def compose_app(
    title: str,
    services: Sequence[RunningService],
    transport: Transport,
    verifier: TokenVerifier | None = None,
    audit: AuditLog | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """One app for one or more services on one transport (and one audit store).

    Every database is migrated before any relay or consumer starts, so no event reaches a
    table that does not exist yet. Tracing is set up here, as the `OTEL_*` variables ask
    (`shared.infra.tracing`; off by default).
    """

    async def start() -> None:
        for service in services:
            await service.migrate()
        await transport.start()
        for service in services:
            await service.start()

    async def stop() -> None:
        await transport.stop()
        for service in services:
            await service.stop()

    routers = [s.routers for s in services]
    runtimes = [r for r in (getattr(s, "runtime", None) for s in services)
                if isinstance(r, ServiceRuntime)]  # fmt: skip
    if audit is not None:
        for runtime in runtimes:
            runtime.forward_audit_to(audit)
    names = [r.name for r in runtimes]
    service_name = names[0] if len(names) == 1 else "embedded"
    if tracing.configure_from_env(service_name):
        for engine in [r.engine for r in runtimes] + ([audit.engine] if audit else []):
            tracing.trace_engine(engine)
    app = create_app(
        title=title,
        routers=[r for its in routers for r in its],
        start=start,
        stop=stop,
        readiness=[*(s.ready for s in services), transport.consuming],
        verifier=verifier,
        answer_stores=answer_stores(services, routers),
        audit=audit,
        max_body_bytes=max_body_bytes,
        metrics_service=service_name,
        scrapers=[partial(_read_outbox, r) for r in runtimes],
        route_services=_route_services(services, routers),
    )
    app.state.services = list(services)
    """For `python -m services.<name> migrate` (`shared.http.main.migrate_only`)."""
    tracing.instrument_app(app)
    return app


def _route_services(
    services: Sequence[RunningService], routers: Sequence[Sequence[APIRouter]]
) -> dict[Callable[..., Any], str]:
    """The service of each endpoint, for the `service` label of `/metrics`."""
    out: dict[Callable[..., Any], str] = {}
    for service, its_routers in zip(services, routers, strict=True):
        runtime = getattr(service, "runtime", None)
        if isinstance(runtime, ServiceRuntime):
            for router in its_routers:
                for route in router.routes:
                    if isinstance(route, APIRoute):
                        out[route.endpoint] = runtime.name
    return out


async def _read_outbox(runtime: ServiceRuntime) -> None:
    """One service's outbox backlog and oldest row (and its audit entries'), for `/metrics`."""
    rows, oldest = await runtime.relay.backlog()
    observe_outbox(runtime.name, rows, oldest)
    if runtime.audit_forwarder is not None:
        rows, oldest = await runtime.audit_forwarder.backlog()
        observe_outbox(runtime.name, rows, oldest, audit=True)
