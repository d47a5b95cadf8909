"""The five steps of the plan on the real broker: need reviewed and raised, secondment
decided, official received, secondment ended with the host's rating, post arranged."""

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
from tests.samples import ending_body, need_body, official_body, secondment_body

pytestmark = pytest.mark.integration


async def _post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    async def attempt() -> httpx.Response:
        return await client.post(url, json=body, headers=headers)

    return await eventually(attempt, lambda r: r.status_code != 503)


async def test_one_secondment_walks_all_five_steps_and_its_history_keeps_them_in_order(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with (
        running(needs_app(d)) as needs,
        running(placement_app(d)) as placement,
        running(reporting_app(d)) as reporting,
    ):
        # 1. The host's need, reviewed and corrected before anyone is seconded.
        need = await needs.post("/api/needs", json=need_body(positions=1), headers=auth.host())
        need_id = need.json()["need_id"]
        amended = await needs.patch(
            f"/api/needs/{need_id}", json={"positions": 2}, headers=auth.host()
        )
        assert amended.status_code == 200, amended.text
        assert amended.json()["positions"] == 2

        # 2. The home authority (Nam Trà My, abolished on 1 July 2025) decides in 2024.
        body = secondment_body(need_id)
        body["official"] = official_body(home_unit="NAM_TRA_MY", ethnicity="XO_DANG",
                                         ethnic_subgroup="CA_DONG")  # fmt: skip
        seconded = await _post(placement, "/api/secondments", body, auth.home("NAM_TRA_MY"))
        assert seconded.status_code == 201, seconded.text
        sid = seconded.json()["secondment_id"]

        # 3. The host receives the official and assigns work.
        received = await placement.post(
            f"/api/secondments/{sid}/reception",
            json={"received_on": "2024-09-03", "assigned_role": "Phó Trưởng phòng Nghiệp vụ Y"},
            headers=auth.host(),
        )
        assert received.status_code == 200, received.text

        # 4. The secondment ends by decision with the host's rating.
        ended = await placement.post(
            f"/api/secondments/{sid}/ending", json=ending_body(), headers=auth.home("NAM_TRA_MY")
        )
        assert ended.status_code == 200, ended.text

        # 5. The home authority records the post afterwards.
        arranged = await placement.post(
            f"/api/secondments/{sid}/post-arrangement",
            json={
                "arrangement": "PROMOTED",
                "new_position_rank": "TRUONG_PHONG",
                "effective_date": "2025-03-10",
            },
            headers=auth.home("NAM_TRA_MY"),
        )
        assert arranged.status_code == 200, arranged.text
        final = arranged.json()
        assert final["status"] == "ENDED"
        assert final["post_arrangement"]["arrangement"] == "PROMOTED"

        # The district keeps its 2024 name; its successors are named as they are today.
        assert final["official"]["home_unit"] == {"code": "NAM_TRA_MY", "name": "Huyện Nam Trà My"}
        assert "XA_NAM_TRA_MY" in {u["code"] for u in final["home_unit_successors"]}

        history = (
            await placement.get(f"/api/secondments/{sid}/history", headers=auth.host())
        ).json()
        assert [e["type"] for e in history] == [
            "OfficerSeconded",
            "OfficialReceived",
            "SecondmentEnded",
            "PostSecondmentArranged",
        ]
        assert [e["aggregateversion"] for e in history] == [1, 2, 3, 4]
        assert all(e["specversion"] == "1.0" and e["subject"] == sid for e in history)

        # The needs service counted the position; one of two is still open.
        need_now = await eventually(
            lambda: needs.get(f"/api/needs/{need_id}", headers=auth.host()),
            lambda r: r.json()["positions_filled"] == 1,
        )
        assert need_now.json()["status"] == "OPEN"

        # Reporting saw the whole story through Kafka.
        evaluation = await eventually(
            lambda: reporting.get(
                "/api/reports/phases/2024-2025/evaluation",
                params={"as_of": "2025-12-31"},
                headers=auth.reader(),
            ),
            lambda r: r.json()["secondments"]["ended"] == 1,
        )
        assert evaluation.json()["secondments"]["completed"] == 1


async def test_a_cancelled_secondment_frees_its_position_and_reopens_the_need(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with running(needs_app(d)) as needs, running(placement_app(d)) as placement:
        need_id = (
            await needs.post("/api/needs", json=need_body(positions=1), headers=auth.host())
        ).json()["need_id"]
        first = await _post(placement, "/api/secondments", secondment_body(need_id), auth.home())
        assert first.status_code == 201
        await eventually(
            lambda: needs.get(f"/api/needs/{need_id}", headers=auth.host()),
            lambda r: r.json()["status"] == "FILLED",
        )
        other = secondment_body(need_id)
        other["official"] = official_body(official_id="NG-0099")
        refused = await placement.post("/api/secondments", json=other, headers=auth.home())
        assert refused.status_code == 409
        assert refused.json()["rule"] in ("NEED_FULL", "NEED_NOT_OPEN")

        cancelled = await placement.post(
            f"/api/secondments/{first.json()['secondment_id']}/cancellation",
            json={"reason": "Nhập nhầm hồ sơ", "cancelled_on": "2024-08-25"},
            headers=auth.home(),
        )
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "CANCELLED"
        await eventually(
            lambda: needs.get(f"/api/needs/{need_id}", headers=auth.host()),
            lambda r: r.json()["status"] == "OPEN",
        )
        again = await _post(placement, "/api/secondments", other, auth.home())
        assert again.status_code == 201, again.text
