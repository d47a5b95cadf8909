"""A reporting service on a fresh SQLite database (the embedded default's adapters)."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from services.reporting.service_layer.projections import project_batch
from shared.contract.envelope import CloudEvent
from shared.http.app import compose_app
from shared.http.auth import TokenVerifier, load_issuers
from shared.infra.transport import InProcessBus
from tests import auth
from tests.auth import dev_issuer
from tests.bench.generator import generate


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ReportingService]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    svc = ReportingService(ReportingSettings(database_url=url), InProcessBus())
    await svc.migrate()
    yield svc
    await svc.stop()


@contextlib.asynccontextmanager
async def generated_reporting(path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The reporting app on SQLite at `path`, holding the generator's seed 11 (200 needs),
    and a report reader's client of it (the HTTP, export and review tests' data)."""
    bus = InProcessBus()
    service = ReportingService(ReportingSettings(database_url=f"sqlite+aiosqlite:///{path}"), bus)
    app = compose_app(
        "reporting", [service], bus, TokenVerifier(load_issuers(dev_issuer().issuers_file))
    )
    async with app.router.lifespan_context(app):
        envelopes = [CloudEvent.from_json(m) for _, _, m in generate(11, needs=200).messages]
        await project_batch(envelopes, service.ports.uow())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://svc", headers=auth.reader()
        ) as c:
            yield c
