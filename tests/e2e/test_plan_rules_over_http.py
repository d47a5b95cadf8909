"""The plan's rules added for leadership (issue 13), through the public HTTP API of the
embedded default: who may host and in which sectors, what counts as a promotion (at the post
arrangement and later) and where the official went after the return — each
refusal a problem with its stable rule code, in Vietnamese first."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.embedded.app import create_embedded_app, settled
from tests import auth
from tests.samples import ending_body, need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            yield client, app


def _problem(answer: httpx.Response, rule: str) -> dict[str, Any]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["rule"] == rule
    return body


async def test_a_district_cannot_raise_a_need_and_a_department_only_in_its_sectors(
    api: tuple[httpx.AsyncClient, Any],
) -> None:
    client, app = api
    issuer = app.state.dev_issuer
    district = auth.headers("NAM_GIANG", "needs:write", issuer=issuer)
    refused = await client.post(
        "/api/needs", json=need_body(host_unit="NAM_GIANG"), headers=district
    )
    problem = _problem(refused, "HOST_NOT_ELIGIBLE")
    assert problem["title"] == "Đơn vị này không được đề xuất nhu cầu tiếp nhận"  # vi first
    assert "department" in problem["detail"]
    health = auth.host(issuer=issuer)
    wrong = await client.post("/api/needs", json=need_body(sector="EDUCATION"), headers=health)
    assert "HEALTH" in _problem(wrong, "SECTOR_NOT_COVERED")["detail"]
    english = await client.post(
        "/api/needs",
        json=need_body(sector="EDUCATION"),
        headers=health | {"Accept-Language": "en"},
    )
    assert _problem(english, "SECTOR_NOT_COVERED")["title"] == (
        "The host department does not cover this sector"
    )
    listed = await client.get("/api/needs", headers=health)
    assert listed.json()["items"] == []  # nothing was raised
    assert (await client.post("/api/needs", json=need_body(), headers=health)).status_code == 201


async def test_a_promotion_to_the_rank_already_held_is_refused(
    api: tuple[httpx.AsyncClient, Any],
) -> None:
    client, app = api
    issuer = app.state.dev_issuer
    host, home = auth.host(issuer=issuer), auth.home(issuer=issuer)
    need = (await client.post("/api/needs", json=need_body(), headers=host)).json()["need_id"]
    await settled(app)
    official = official_body(position_rank="TRUONG_PHONG")
    seconded = await client.post(
        "/api/secondments", json=secondment_body(need, official=official), headers=home
    )
    assert seconded.status_code == 201, seconded.text
    url = f"/api/secondments/{seconded.json()['secondment_id']}"
    received = await client.post(
        f"{url}/reception",
        json={"received_on": "2024-09-01", "assigned_role": "Phó phòng"},
        headers=host,
    )
    assert received.status_code == 200, received.text
    assert (await client.post(f"{url}/ending", json=ending_body(), headers=home)).status_code == 200
    same = {"arrangement": "PROMOTED", "new_position_rank": "TRUONG_PHONG"}
    refused = await client.post(
        f"{url}/post-arrangement", json=same | {"effective_date": "2025-03-10"}, headers=home
    )
    assert "TRUONG_PHONG" in _problem(refused, "PROMOTION_NOT_HIGHER")["detail"]
    higher = {"arrangement": "PROMOTED", "new_position_rank": "PHO_CHU_TICH_UBND_HUYEN"}
    promoted = await client.post(
        f"{url}/post-arrangement", json=higher | {"effective_date": "2025-03-10"}, headers=home
    )
    assert promoted.status_code == 200, promoted.text


async def _ended(client: httpx.AsyncClient, app: Any, rank: str = "PHO_TRUONG_PHONG") -> str:
    """A secondment of an official holding `rank`, received and ended; its URL."""
    issuer = app.state.dev_issuer
    host, home = auth.host(issuer=issuer), auth.home(issuer=issuer)
    need = (await client.post("/api/needs", json=need_body(), headers=host)).json()["need_id"]
    await settled(app)
    official = official_body(position_rank=rank)
    seconded = await client.post(
        "/api/secondments", json=secondment_body(need, official=official), headers=home
    )
    assert seconded.status_code == 201, seconded.text
    url = f"/api/secondments/{seconded.json()['secondment_id']}"
    reception = {"received_on": "2024-09-01", "assigned_role": "Phó phòng"}
    assert (await client.post(f"{url}/reception", json=reception, headers=host)).status_code == 200
    assert (await client.post(f"{url}/ending", json=ending_body(), headers=home)).status_code == 200
    return url


async def test_the_post_after_return_names_its_unit_and_a_later_promotion_must_rise(
    api: tuple[httpx.AsyncClient, Any],
) -> None:
    client, app = api
    issuer = app.state.dev_issuer
    home, host = auth.home(issuer=issuer), auth.host(issuer=issuer)
    url = await _ended(client, app)
    promotion = {
        "new_position_rank": "TRUONG_PHONG",
        "promoted_on": "2025-06-01",
        "post_title": "Trưởng phòng Nội vụ",
        "decision": {"number": "77/QĐ-UBND", "date": "2025-05-25"},
    }
    early = await client.post(f"{url}/promotion", json=promotion, headers=home)
    assert early.status_code == 409  # no post arrangement yet
    assert early.json()["rule"] == "LIFECYCLE_ORDER"
    unknown = {"arrangement": "RETURNED_TO_FORMER_POST", "effective_date": "2025-03-10"}
    nowhere = await client.post(
        f"{url}/post-arrangement", json=unknown | {"destination_unit": "NOWHERE"}, headers=home
    )
    _problem(nowhere, "UNKNOWN_CODE")
    area = await client.post(  # a reporting area holds no posts
        f"{url}/post-arrangement", json=unknown | {"destination_unit": "KV_NAM_GIANG"}, headers=home
    )
    _problem(area, "UNKNOWN_CODE")
    arranged = await client.post(
        f"{url}/post-arrangement",
        json=unknown | {"destination_unit": "NAM_GIANG", "post_title": "Phó Trưởng phòng Nội vụ"},
        headers=home,
    )
    assert arranged.status_code == 200, arranged.text
    post = arranged.json()["post_arrangement"]
    assert post["destination_unit"] == {"code": "NAM_GIANG", "name": "Huyện Nam Giang"}
    assert post["post_title"] == "Phó Trưởng phòng Nội vụ"
    by_host = await client.post(f"{url}/promotion", json=promotion, headers=host)
    assert by_host.status_code == 403  # the home authority's decision, like the arrangement
    same = promotion | {"new_position_rank": "PHO_TRUONG_PHONG"}
    _problem(await client.post(f"{url}/promotion", json=same, headers=home), "PROMOTION_NOT_HIGHER")
    promoted = await client.post(f"{url}/promotion", json=promotion, headers=home)
    assert promoted.status_code == 200, promoted.text
    [later] = promoted.json()["promotions_after_return"]
    assert later["new_position_rank"] == "TRUONG_PHONG"
    again = promotion | {"promoted_on": "2025-06-20"}
    problem = _problem(
        await client.post(f"{url}/promotion", json=again, headers=home),
        "PROMOTION_NOT_ABOVE_EARLIER",
    )
    assert problem["title"] == "Chức vụ mới không cao hơn chức vụ đã được bổ nhiệm trước đó"
    history = (await client.get(f"{url}/history", headers=home)).json()
    assert [e["type"] for e in history][-2:] == [
        "PostSecondmentArranged",
        "OfficialPromotedAfterReturn",
    ]
