"""The next-phase planner over HTTP on the embedded default (issue 13 item 6): a small phase
2024–2025 recorded through the public API, a 2026–2030 proposal whose weights the test
recomputes itself, saved as locality plans through the placement service's `/api/plans`
with a `plans:write` token, and then visible in the 2026–2030 evaluation's `plans` block;
the page renders it in Vietnamese; who may read and who may save."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.embedded.app import create_embedded_app, settled
from tests import auth
from tests.samples import ending_body, need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e

PROPOSALS = "/api/reports/phases/2026-2030/plan-proposals"
RECORDED = {"NAM_GIANG": (4, 2, 2), "TAY_GIANG": (2, 2, 0)}
"""District → (seconded, ended, promoted) in 2024–2025."""
ELIGIBLE = {"KV_NAM_GIANG": 10, "KV_TAY_GIANG": 8}
"""Eligible officials per commune of these areas; 5 in every other commune."""
DECISION = {"number": "15/KH-UBND", "date": "2026-02-01"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            yield client, app


async def _ok(answer: Any, status: int = 200) -> dict[str, Any]:
    response: httpx.Response = await answer
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def _record_phase(client: httpx.AsyncClient, app: FastAPI) -> None:
    issuer = app.state.dev_issuer
    host = auth.host(issuer=issuer)
    total = sum(n for n, _, _ in RECORDED.values())
    needs = [
        (await _ok(client.post("/api/needs", json=need_body(positions=1), headers=host), 201))[
            "need_id"
        ]
        for _ in range(total)
    ]
    await settled(app)
    for home, (seconded, ended, promoted) in RECORDED.items():
        headers = auth.home(home, issuer=issuer)
        for i in range(seconded):
            official = official_body(official_id=f"{home[:2]}-{i}", home_unit=home)
            body = secondment_body(needs.pop(), official=official)
            made = await _ok(client.post("/api/secondments", json=body, headers=headers), 201)
            url = f"/api/secondments/{made['secondment_id']}"
            if i < ended:
                await _ok(client.post(f"{url}/ending", json=ending_body(), headers=headers))
            if i < promoted:
                arrangement = {
                    "arrangement": "PROMOTED",
                    "new_position_rank": "TRUONG_PHONG",
                    "effective_date": "2025-03-10",
                }
                await _ok(client.post(f"{url}/post-arrangement", json=arrangement, headers=headers))
    await settled(app)


def _clamp(x: float) -> float:
    return min(max(x, 0.5), 1.5)


async def test_a_proposal_saved_as_locality_plans_shows_in_the_evaluation(
    api: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = api
    issuer = app.state.dev_issuer
    reader = auth.reader(issuer=issuer)
    await _record_phase(client, app)
    history = {"target_officials": 0, "as_of": "2025-12-31"}
    first = await _ok(client.post(PROPOSALS, json=history, headers=reader))
    communes = {r["home_unit"]: r["area"] for r in first["proposal"]["localities"]}
    assert first["based_on"] == "2024-2025"
    assert first["provisional"] is True
    assert all(code.startswith("XA_") for code in communes)  # districts ended in 2025
    assert first["proposal"]["capacity_basis"] == "equal"
    assert first["requests"] == []  # no decision, nothing to save

    eligible = {code: ELIGIBLE.get(area, 5) for code, area in communes.items()}
    body = {
        "target_officials": 40,
        "eligible_officials": eligible | {"TAM_KY": 4},
        "max_per_year": 3,
        "as_of": "2025-12-31",
        "decision": DECISION,
    }
    answer = await _ok(client.post(PROPOSALS, json=body, headers=reader))
    assert await _ok(client.post(PROPOSALS, json=body, headers=reader)) == answer  # determined
    proposal = answer["proposal"]
    assert proposal["capacity_basis"] == "eligible_officials"
    assert proposal["excluded"] == [{"home_unit": "TAM_KY", "reason": "NOT_MOUNTAINOUS"}]
    rows = {r["home_unit"]: r for r in proposal["localities"]}
    assert set(rows) == set(communes)

    # The weights, recomputed: areas' secondments per eligible official against the
    # province's, promotion rates against the province's, each clamped to [1/2, 3/2].
    area_eligible: dict[str, int] = {}
    for code, area in communes.items():
        area_eligible[area] = area_eligible.get(area, 0) + eligible[code]
    province_rate = sum(n for n, _, _ in RECORDED.values()) / sum(eligible.values())
    province_promotion = sum(p for _, _, p in RECORDED.values()) / sum(
        e for _, e, _ in RECORDED.values()
    )
    for code, row in rows.items():
        area = communes[code]
        seconded, ended, promoted = RECORDED.get(area.removeprefix("KV_"), (0, 0, 0))
        throughput = _clamp(seconded / area_eligible[area] / province_rate)
        promotion = _clamp(promoted / ended / province_promotion) if ended else 1.0
        assert row["throughput_index"] == round(throughput, 4), code
        assert row["promotion_index"] == round(promotion, 4), code
        assert row["weight"] == pytest.approx(eligible[code] * throughput * promotion, abs=1e-3)
        assert row["history"] is not None  # every area's district took part in 2024–2025
        assert all(0 <= c["officials"] <= 3 for c in row["years"])
    assert sum(r["total"] for r in rows.values()) == 40
    assert sum(y["officials"] for y in proposal["years"]) == 40
    nam_giang = [r["total"] for c, r in rows.items() if communes[c] == "KV_NAM_GIANG"]
    tay_giang = [r["total"] for c, r in rows.items() if communes[c] == "KV_TAY_GIANG"]
    assert min(nam_giang) >= max(tay_giang)  # more capacity, more throughput, promotions
    # The first year loses the time a need took to fill (the evaluation's median).
    evaluation = await _ok(
        client.get(
            "/api/reports/phases/2024-2025/evaluation",
            params={"as_of": "2025-12-31", "rollup": "successor"},
            headers=reader,
        )
    )
    median = evaluation["time_to_fill_days"]["median"]
    assert proposal["time_to_fill_days"] == median
    assert proposal["years"][0]["weight"] == round(max(1 - median / 365, 0.5), 4)

    # Saved through the placement service, with Home Affairs' plans:write token.
    requests = answer["requests"]
    assert {r["home_unit"] for r in requests} == {c for c, r in rows.items() if r["total"]}
    assert all(r["path"] == "/api/plans" for r in requests)
    refused = await client.post(
        "/api/plans", json=requests[0]["body"], headers=reader | {"Idempotency-Key": "x-1"}
    )
    assert refused.status_code == 403  # a report reader may read the planner, not save it
    planner = auth.headers("DN_SO_NOI_VU", "plans:write", issuer=issuer)
    for r in requests:
        headers = planner | {"Idempotency-Key": r["idempotency_key"]}
        await _ok(client.request(r["method"], r["path"], json=r["body"], headers=headers), 201)
    again = requests[0]
    replay = await client.post(
        again["path"],
        json=again["body"],
        headers=planner | {"Idempotency-Key": again["idempotency_key"]},
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    await settled(app)

    # The evaluation's plans block holds exactly the proposal.
    plans = (
        await _ok(
            client.get(
                "/api/reports/phases/2026-2030/evaluation",
                params={"as_of": "2026-12-31"},
                headers=reader,
            )
        )
    )["plans"]
    assert plans["province"]["planned"] == 40
    assert set(plans["localities"]) == {r["home_unit"] for r in requests}
    for code, progress in plans["localities"].items():
        assert progress["planned"] == rows[code]["total"]
        assert [y["planned"] for y in progress["years"]] == [
            c["officials"] for c in rows[code]["years"]
        ]
        assert progress["decisions"] == [DECISION["number"]]

    # Proposing again finds the plans in force: the requests amend them.
    amended = body | {"decision": {"number": "30/KH-UBND", "date": "2026-06-01"}}
    later = await _ok(client.post(PROPOSALS, json=amended, headers=reader))
    assert set(later["existing_plans"]) == set(plans["localities"])
    for r in later["requests"]:
        plan_id = later["existing_plans"][r["home_unit"]][0]
        assert r["path"] == f"/api/plans/{plan_id}/amendments"
        assert "home_unit" not in r["body"]


async def test_the_planner_page_and_who_may_use_the_planner(
    api: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = api
    issuer = app.state.dev_issuer
    reader = auth.reader(issuer=issuer)
    page = await client.get(
        "/planner",
        params={
            "target_officials": "12",
            "e_XA_THANH_MY": "7",
            "decision_number": "15/KH-UBND",
            "decision_date": "2026-02-01",
        },
        headers=reader,
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert "Đề xuất kế hoạch biệt phái giai đoạn sau" in html
    assert 'data-locality="XA_THANH_MY"' in html
    assert 'name="e_XA_THANH_MY" value="7"' in html
    assert 'id="save-plans"' in html  # the embedded default serves /api/plans itself
    assert "Giả định và quy tắc phân bổ" in html
    english = await client.get("/planner", params={"lang": "en"}, headers=reader)
    assert "Assumptions and allocation rule" in english.text
    wrong = await client.get("/planner", params={"target_share": "abc"}, headers=reader)
    assert 'id="planner-error"' in wrong.text
    anonymous = await client.get("/planner", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    # Only report readers get proposals; a share target needs every locality's headcount.
    home = auth.home("NAM_GIANG", issuer=issuer)
    refused = await client.post(PROPOSALS, json={"target_officials": 3}, headers=home)
    assert refused.status_code == 403
    share = await client.post(PROPOSALS, json={"target_share": 0.2}, headers=reader)
    assert share.status_code == 422
    assert share.json()["rule"] == "INVALID_REQUEST"
    both = await client.post(
        PROPOSALS, json={"target_share": 0.2, "target_officials": 3}, headers=reader
    )
    assert both.status_code == 422
    first = await client.post(
        "/api/reports/phases/2024-2025/plan-proposals",
        json={"target_officials": 3},
        headers=reader,
    )
    assert first.status_code == 422  # no phase before the first to learn from
    unknown = await client.post(
        PROPOSALS,
        json={"target_officials": 3, "eligible_officials": {"NOWHERE": 1}},
        headers=reader,
    )
    assert unknown.json()["rule"] == "UNKNOWN_CODE"
