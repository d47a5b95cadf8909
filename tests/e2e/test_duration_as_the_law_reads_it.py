"""The 6-month cap as the Civil Code reads a period in months, through the public API of the
embedded system: a secondment from a month's 31st may end on the last day of a shorter last
month, and not a day later; outside every phase the plan's cap still holds."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.embedded.app import create_embedded_app, settled
from tests.auth import HOME_SCOPES, HOST_SCOPES, headers
from tests.samples import need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e


@dataclass
class System:
    app: FastAPI
    client: httpx.AsyncClient

    async def second(self, official_id: str, start: str, end: str, decided: str) -> httpx.Response:
        """Raise a need for the date, then second an official from `start` to `end`."""
        issuer = self.app.state.dev_issuer
        host = headers("SO_Y_TE", *HOST_SCOPES, issuer=issuer)
        raised = await self.client.post(
            "/api/needs", json=need_body(raised_on=decided, desired_start=start), headers=host
        )
        assert raised.status_code == 201, raised.text
        await settled(self.app)
        body = secondment_body(
            raised.json()["need_id"],
            official=official_body(official_id=official_id),
            start_date=start,
            planned_end_date=end,
            decision={"number": f"{official_id}/QĐ", "date": decided},
        )
        home = headers("NAM_GIANG", *HOME_SCOPES, issuer=issuer)
        return await self.client.post("/api/secondments", json=body, headers=home)


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            yield System(app, client)


async def test_from_october_31st_six_months_end_on_april_30th_and_not_a_day_later(
    system: System,
) -> None:
    too_long = await system.second("NG-A", "2024-10-31", "2025-05-01", "2024-10-20")
    assert too_long.status_code == 422, too_long.text
    assert too_long.json()["rule"] == "DURATION_OVER_CAP"
    assert too_long.json()["latest_end_date"] == "2025-04-30"
    accepted = await system.second("NG-A", "2024-10-31", "2025-04-30", "2024-10-20")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["planned_end_date"] == "2025-04-30"


async def test_outside_every_phase_the_plans_six_months_hold_not_the_laws_three_years(
    system: System,
) -> None:
    long = await system.second("NG-B", "2023-05-01", "2023-12-31", "2023-04-20")
    assert long.status_code == 422, long.text
    assert long.json()["rule"] == "DURATION_OVER_CAP"
    assert long.json()["cap_months"] == 6
