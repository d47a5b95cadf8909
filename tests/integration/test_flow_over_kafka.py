"""One secondment travels the real way: HTTP → event store + outbox → Kafka → consumers →
read model in PostgreSQL → HTTP."""

import asyncio
from typing import Any

import httpx
import pytest

from tests import auth
from tests.integration.system import (
    eventually,
    needs_app,
    new_deployment,
    placement_app,
    reporting_app,
    running,
)
from tests.samples import ending_body, need_body, secondment_body

pytestmark = pytest.mark.integration

EVALUATION = "/api/reports/phases/2024-2025/evaluation?as_of=2025-12-31"


async def _second(placement: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    """POST a secondment, waiting out 503 while placement catches up with the needs topic."""

    async def attempt() -> httpx.Response:
        return await placement.post("/api/secondments", json=body, headers=auth.home())

    return await eventually(attempt, lambda r: r.status_code != 503)


async def test_need_secondment_and_ending_reach_the_evaluation_through_kafka(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with (
        running(needs_app(d)) as needs,
        running(placement_app(d)) as placement,
        running(reporting_app(d)) as reporting,
    ):
        raised = await needs.post("/api/needs", json=need_body(positions=1), headers=auth.host())
        assert raised.status_code == 201, raised.text
        need_id = raised.json()["need_id"]
        assert raised.json()["status"] == "OPEN"

        seconded = await _second(placement, secondment_body(need_id))
        assert seconded.status_code == 201, seconded.text
        assert seconded.json()["status"] == "ACTIVE"
        assert seconded.json()["host_unit"] == {"code": "SO_Y_TE", "name": "Sở Y tế"}
        secondment_id = seconded.json()["secondment_id"]

        async def evaluation() -> dict[str, Any]:
            response = await reporting.get(EVALUATION, headers=auth.reader())
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            return body

        mid = await eventually(evaluation, lambda e: e["secondments"]["started"] == 1)
        assert mid["needs"]["raised"] == 1
        assert mid["secondments"]["ended"] == 0

        ended = await placement.post(
            f"/api/secondments/{secondment_id}/ending", json=ending_body(), headers=auth.home()
        )
        assert ended.status_code == 200, ended.text
        assert ended.json()["status"] == "ENDED"

        # NeedFilled (needs service) and SecondmentEnded (placement) travel independently.
        final = await eventually(
            evaluation, lambda e: e["secondments"]["ended"] == 1 and e["needs"]["filled"] == 1
        )
        assert final["needs"] | {"fill_rate": None} == {
            "raised": 1,
            "withdrawn": 0,
            "filled": 1,
            "open": 0,
            "positions_requested": 1,
            "positions_filled": 1,
            "fill_rate": None,
        }
        assert final["secondments"]["started"] == 1
        assert final["secondments"]["active"] == 0
        assert final["secondments"]["completed"] == 1

        # The needs service consumed OfficerSeconded and filled its only position.
        need = await eventually(
            lambda: needs.get(f"/api/needs/{need_id}", headers=auth.host()),
            lambda r: r.json()["status"] == "FILLED",
        )
        assert need.json()["positions_filled"] == 1


async def test_the_last_position_goes_to_one_of_two_racing_requests(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with running(needs_app(d)) as needs, running(placement_app(d)) as placement:
        need_id = (
            await needs.post("/api/needs", json=need_body(positions=1), headers=auth.host())
        ).json()["need_id"]
        # Wait until placement knows the need: an ineligible official is then refused by rule.
        probe = secondment_body(need_id)
        probe["official"] = probe["official"] | {"ethnicity": "KINH"}
        await eventually(
            lambda: placement.post("/api/secondments", json=probe, headers=auth.home()),
            lambda r: r.status_code == 422,
        )
        a = secondment_body(need_id)
        a["official"] = a["official"] | {"official_id": "NG-0003"}
        b = secondment_body(need_id)
        b["official"] = b["official"] | {"official_id": "NG-0004"}
        results = await asyncio.gather(_second(placement, a), _second(placement, b))
        statuses = sorted(r.status_code for r in results)
        assert statuses == [201, 409], [r.text for r in results]
        refused = next(r for r in results if r.status_code == 409)
        assert refused.json()["rule"] == "NEED_FULL"
        assert refused.headers["content-type"] == "application/problem+json"
