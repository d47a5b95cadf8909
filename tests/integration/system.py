"""The three services as they run in production (Kafka, one PostgreSQL database each),
started in the test process so tests can drive them over HTTP."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from fastapi import FastAPI

from shared.http.app import compose_app
from shared.infra.kafka import KafkaTransport

from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from services.placement.bootstrap import PlacementService
from services.placement.config import PlacementSettings
from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
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
            database_url=self.needs_db, kafka_bootstrap=self.bootstrap, topic_prefix=self.prefix
        )

    def placement_settings(self) -> PlacementSettings:
        return PlacementSettings(
            database_url=self.placement_db, kafka_bootstrap=self.bootstrap, topic_prefix=self.prefix
        )

    def reporting_settings(self) -> ReportingSettings:
        return ReportingSettings(
            database_url=self.reporting_db, kafka_bootstrap=self.bootstrap, topic_prefix=self.prefix
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
    t = KafkaTransport(d.bootstrap, client_id="needs")
    s = d.needs_settings()
    return compose_app("needs", [NeedsService(s, t)], t)


def placement_app(d: Deployment) -> FastAPI:
    t = KafkaTransport(d.bootstrap, client_id="placement")
    return compose_app("placement", [PlacementService(d.placement_settings(), t)], t)


def reporting_app(d: Deployment, service: ReportingService | None = None) -> FastAPI:
    t = KafkaTransport(d.bootstrap, client_id="reporting")
    return compose_app("reporting", [service or ReportingService(d.reporting_settings(), t)], t)


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan and hand back a client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client


T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 20.0
) -> T:
    """Poll until `accept(probe())` or fail with the last value seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.1)
