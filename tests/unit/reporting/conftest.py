"""A reporting service on a fresh SQLite database (the embedded default's adapters)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from shared.infra.transport import InProcessBus


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ReportingService]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    svc = ReportingService(ReportingSettings(database_url=url), InProcessBus())
    await svc.migrate()
    yield svc
    await svc.stop()
