"""The three services as they run in production (Kafka, one PostgreSQL database each),
started in the test process so tests can drive them over HTTP."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from fastapi import FastAPI

from services.needs.__main__ import create_app as create_needs_app
from services.needs.config import NeedsSettings
from services.placement.__main__ import create_app as create_placement_app
from services.placement.config import PlacementSettings
from services.reporting.__main__ import create_app as create_reporting_app
from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from shared.http.app import compose_app
from shared.http.auth import TokenVerifier, load_issuers
from tests.auth import TEST_KEYS, test_issuer
from tests.infra import create_database, unique_name


@dataclass
class Deployment:
    """Where one test's system lives: a topic prefix and three databases."""

    bootstrap: str
    prefix: str
    needs_db: str
    placement_db: str
    reporting_db: str

    def needs_settings(self) -> NeedsSettings:
        return NeedsSettings(
            database_url=self.needs_db,
            kafka_bootstrap=self.bootstrap,
            topic_prefix=self.prefix,
            auth_issuers_file=test_issuer().issuers_file,
            programme_key=TEST_KEYS["programme_key"],
        )

    def placement_settings(self) -> PlacementSettings:
        return PlacementSettings(
            database_url=self.placement_db,
            kafka_bootstrap=self.bootstrap,
            topic_prefix=self.prefix,
            auth_issuers_file=test_issuer().issuers_file,
            programme_key=TEST_KEYS["programme_key"],
            master_key=TEST_KEYS["master_key"],
        )

    def reporting_settings(self) -> ReportingSettings:
        return ReportingSettings(
            database_url=self.reporting_db,
            kafka_bootstrap=self.bootstrap,
            topic_prefix=self.prefix,
            auth_issuers_file=test_issuer().issuers_file,
            programme_key=TEST_KEYS["programme_key"],
        )


async def new_deployment(bootstrap: str, pg_dsn: str) -> Deployment:
    """Fresh databases and topics, so tests never see each other's data."""
    tag = unique_name("t")
    return Deployment(
        bootstrap=bootstrap,
        prefix=f"{tag}.",
        needs_db=await create_database(pg_dsn, f"{tag}_needs"),
        placement_db=await create_database(pg_dsn, f"{tag}_placement"),
        reporting_db=await create_database(pg_dsn, f"{tag}_reporting"),
    )


def needs_app(d: Deployment) -> FastAPI:
    """The needs service exactly as `python -m services.needs` builds it."""
    return create_needs_app(d.needs_settings())


def placement_app(d: Deployment) -> FastAPI:
    """The placement service exactly as `python -m services.placement` builds it."""
    return create_placement_app(d.placement_settings())


def reporting_app(d: Deployment, service: ReportingService | None = None) -> FastAPI:
    """The reporting service; a test may hand in an instrumented service object."""
    if service is None:
        return create_reporting_app(d.reporting_settings())
    verifier = TokenVerifier(load_issuers(test_issuer().issuers_file))
    return compose_app("reporting", [service], service.transport, verifier)


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan and hand back a client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client


T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], within: float = 30.0
) -> T:
    """Poll until `accept(probe())` or fail with the last value seen."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value!r}")
        await asyncio.sleep(0.1)
