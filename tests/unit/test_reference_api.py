"""Agencies read the reference data over HTTP, as it was on a date."""

import httpx
import pytest
from fastapi import FastAPI

from shared.http.problems import install_problem_handlers
from shared.http.reference_api import build_reference_router


@pytest.fixture
def client() -> httpx.AsyncClient:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(build_reference_router())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ref")


async def test_the_nine_mountainous_districts_are_listed_in_2024_and_gone_in_2026(
    client: httpx.AsyncClient,
) -> None:
    in_2024 = (await client.get("/api/reference/units?valid_on=2024-09-01&kind=DISTRICT")).json()
    mountainous = {u["code"] for u in in_2024 if u["mountainous"]}
    assert {"NAM_GIANG", "NAM_TRA_MY", "TAY_GIANG", "PHUOC_SON"} <= mountainous
    in_2026 = (await client.get("/api/reference/units?valid_on=2026-03-01&kind=DISTRICT")).json()
    assert in_2026 == []


async def test_ranks_come_lowest_first_with_eligibility(client: httpx.AsyncClient) -> None:
    ranks = (await client.get("/api/reference/ranks?valid_on=2024-09-01")).json()
    codes = [r["code"] for r in ranks]
    assert codes.index("PHO_TRUONG_PHONG") < codes.index("TRUONG_PHONG")
    assert not next(r for r in ranks if r["code"] == "CHUYEN_VIEN")["eligible"]


async def test_fifty_four_ethnic_groups_and_sectors_are_served(client: httpx.AsyncClient) -> None:
    assert len((await client.get("/api/reference/ethnicities")).json()) == 54
    assert "HEALTH" in {s["code"] for s in (await client.get("/api/reference/sectors")).json()}


async def test_a_malformed_date_is_a_problem_not_a_crash(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/reference/units?valid_on=not-a-date")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
