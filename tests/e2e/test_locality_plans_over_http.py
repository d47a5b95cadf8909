"""Locality secondment plans (issue 13 item 2) through the public HTTP API of the embedded
default: adopt, amend with history, the refusals with their rule codes, and plan against
actual in the evaluation and the `behind_plan` alert, recomputed here independently."""

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.embedded.app import create_embedded_app, settled
from tests import auth
from tests.samples import need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e

PLANS = "plans:write"
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            yield client, app


def plan_body(home: str = "NAM_GIANG", **over: Any) -> dict[str, Any]:
    return {
        "home_unit": home,
        "phase_id": "2024-2025",
        "targets": [
            {"year": 2024, "officials": 2, "by_sector": [{"sector": "HEALTH", "officials": 1}]},
            {"year": 2025, "officials": 4},
        ],
        "decision": {"number": "112/KH-UBND", "date": "2024-07-25"},
    } | over


def _problem(answer: httpx.Response, status: int, rule: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["rule"] == rule, body
    return body


async def test_adopt_amend_and_read_a_plan_with_its_history(
    api: tuple[httpx.AsyncClient, Any],
) -> None:
    client, app = api
    issuer = app.state.dev_issuer
    district = auth.headers("NAM_GIANG", PLANS, issuer=issuer)
    home_affairs = auth.headers("SO_NOI_VU", PLANS, issuer=issuer)
    key = {"Idempotency-Key": "plan-nam-giang-1"}
    adopted = await client.post("/api/plans", json=plan_body(), headers=district | key)
    assert adopted.status_code == 201, adopted.text
    plan = adopted.json()
    assert plan["home_unit"]["code"] == "NAM_GIANG"
    assert plan["officials"] == 6
    assert plan["amendments"] == 0
    again = await client.post("/api/plans", json=plan_body(), headers=district | key)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == plan
    url = f"/api/plans/{plan['plan_id']}"
    amendment = {
        "targets": [{"year": 2024, "officials": 2}, {"year": 2025, "officials": 6}],
        "decision": {"number": "20/KH-UBND", "date": "2025-01-15"},
        "reason": "Bổ sung chỉ tiêu năm 2025",
    }
    amended = await client.post(f"{url}/amendments", json=amendment, headers=home_affairs)
    assert amended.status_code == 200, amended.text
    assert amended.json()["officials"] == 8
    read = await client.get(url, headers=auth.reader(issuer=issuer))
    assert read.status_code == 200
    history = read.json()["history"]
    assert [h["type"] for h in history] == ["SecondmentPlanAdopted", "SecondmentPlanAmended"]
    assert [h["decision"]["number"] for h in history] == ["112/KH-UBND", "20/KH-UBND"]
    assert [h["recorded_by"] for h in history] == ["NAM_GIANG", "SO_NOI_VU"]
    assert history[0]["targets"][1]["officials"] == 4  # the adopted schedule is kept
    # Refusals, each with its rule code.
    earlier = amendment | {"decision": {"number": "21/KH", "date": "2025-01-14"}}
    _problem(
        await client.post(f"{url}/amendments", json=earlier, headers=district),
        409,
        "PLAN_DECISION_OUT_OF_ORDER",
    )
    _problem(
        await client.post("/api/plans", json=plan_body(), headers=district),
        409,
        "PLAN_ALREADY_ADOPTED",
    )
    outside = plan_body(targets=[{"year": 2026, "officials": 1}])
    _problem(
        await client.post("/api/plans", json=outside, headers=district),
        422,
        "PLAN_YEAR_OUTSIDE_PHASE",
    )
    negative = plan_body(targets=[{"year": 2024, "officials": -1}])
    problem = _problem(
        await client.post("/api/plans", json=negative, headers=district | ENGLISH),
        422,
        "PLAN_TARGET_INVALID",
    )
    assert problem["title"] == "The plan's targets are not valid"
    tam_ky = auth.headers("TAM_KY", PLANS, issuer=issuer)
    _problem(
        await client.post("/api/plans", json=plan_body("TAM_KY"), headers=tam_ky),
        422,
        "HOME_UNIT_NOT_MOUNTAINOUS",
    )
    _problem(
        await client.post("/api/plans", json=plan_body("NOWHERE"), headers=home_affairs),
        422,
        "UNKNOWN_CODE",
    )
    bad_sector = plan_body(
        "NAM_TRA_MY",
        targets=[{"year": 2024, "officials": 1, "by_sector": [{"sector": "NOPE", "officials": 1}]}],
    )
    _problem(
        await client.post("/api/plans", json=bad_sector, headers=home_affairs), 422, "UNKNOWN_CODE"
    )
    other = auth.headers("NAM_TRA_MY", PLANS, issuer=issuer)
    _problem(
        await client.post(f"{url}/amendments", json=amendment, headers=other), 403, "FORBIDDEN"
    )
    stranger = auth.headers("NAM_TRA_MY", "secondments:write", issuer=issuer)
    _problem(await client.get(url, headers=stranger), 404, "NOT_FOUND")
    # Nothing refused was recorded.
    assert len((await client.get(url, headers=district)).json()["history"]) == 2


def expected_progress(
    targets: dict[int, int], seconded: dict[int, int], as_of: dt.date
) -> dict[str, Any]:
    """Independent recomputation of docs/reporting.md's plan pace: the years before `as_of`'s
    year in full, its year pro rata by days (as_of inclusive), floored."""
    pace = 0.0
    for year, officials in targets.items():
        if year < as_of.year:
            pace += officials
        elif year == as_of.year:
            first = dt.date(year, 1, 1)
            days = (dt.date(year + 1, 1, 1) - first).days
            pace += officials * ((as_of - first).days + 1) / days
    done = sum(n for y, n in seconded.items() if y <= as_of.year)
    return {"expected_to_date": int(pace), "seconded": done, "behind": done < int(pace)}


async def test_plan_against_actual_and_the_behind_plan_alert(
    api: tuple[httpx.AsyncClient, Any],
) -> None:
    client, app = api
    issuer = app.state.dev_issuer
    home_affairs = auth.headers("SO_NOI_VU", PLANS, issuer=issuer)
    for home, targets in (
        ("NAM_GIANG", [{"year": 2024, "officials": 2}, {"year": 2025, "officials": 4}]),
        ("NAM_TRA_MY", [{"year": 2024, "officials": 1}, {"year": 2025, "officials": 1}]),
    ):
        answer = await client.post(
            "/api/plans", json=plan_body(home, targets=targets), headers=home_affairs
        )
        assert answer.status_code == 201, answer.text
    host = auth.host(issuer=issuer)
    need = await client.post("/api/needs", json=need_body(positions=5), headers=host)
    need_id = need.json()["need_id"]
    await settled(app)
    seconded = [
        ("NAM_GIANG", "NG-1", "2024-09-01"),
        ("NAM_GIANG", "NG-2", "2025-03-01"),
        ("NAM_TRA_MY", "NTM-1", "2024-10-01"),
    ]
    for home, official_id, start in seconded:
        official = official_body(official_id=official_id, home_unit=home)
        body = secondment_body(need_id, official=official, start_date=start)
        end = dt.date.fromisoformat(start) + dt.timedelta(days=90)
        body["planned_end_date"] = end.isoformat()
        body["decision"] = body["decision"] | {"date": start}
        answer = await client.post(
            "/api/secondments", json=body, headers=auth.home(home, issuer=issuer)
        )
        assert answer.status_code == 201, answer.text
    await settled(app)
    as_of = dt.date(2025, 7, 1)
    evaluation = await client.get(
        "/api/reports/phases/2024-2025/evaluation",
        params={"as_of": as_of.isoformat()},
        headers=auth.reader(issuer=issuer),
    )
    assert evaluation.status_code == 200, evaluation.text
    plans = evaluation.json()["plans"]
    expected = {
        "NAM_GIANG": expected_progress({2024: 2, 2025: 4}, {2024: 1, 2025: 1}, as_of),
        "NAM_TRA_MY": expected_progress({2024: 1, 2025: 1}, {2024: 1}, as_of),
    }
    assert expected["NAM_GIANG"]["behind"]
    assert not expected["NAM_TRA_MY"]["behind"]
    for home, want in expected.items():
        got = plans["localities"][home]
        assert got["expected_to_date"] == want["expected_to_date"], home
        assert got["seconded"] == want["seconded"], home
        assert got["behind_plan"] is want["behind"], home
    ng = plans["localities"]["NAM_GIANG"]
    assert [(y["year"], y["planned"], y["seconded"]) for y in ng["years"]] == [
        (2024, 2, 1),
        (2025, 4, 1),
    ]
    province = plans["province"]
    assert province["planned"] == 8
    assert province["seconded"] == 3
    assert [(y["year"], y["planned"], y["seconded"]) for y in province["years"]] == [
        (2024, 3, 2),
        (2025, 5, 1),
    ]
    reader = auth.reader(issuer=issuer)
    alerts = await client.get("/api/reports/alerts", params={"as_of": str(as_of)}, headers=reader)
    behind = alerts.json()["behind_plan"]
    assert [b["home_unit"] for b in behind] == ["NAM_GIANG"]
    assert behind[0]["shortfall"] == expected["NAM_GIANG"]["expected_to_date"] - 2
    assert alerts.json()["counts"]["behind_plan"] == 1
    # Before the plan was adopted, it is not in force.
    early = await client.get(
        "/api/reports/phases/2024-2025/evaluation",
        params={"as_of": "2024-07-24"},
        headers=auth.reader(issuer=issuer),
    )
    assert early.json()["plans"]["localities"] == {}
