"""Each agency tries every other agency's records over HTTP (embedded app) and is refused:
another's need or secondment reads as unknown (404, no leak), every command on it is
forbidden (403), lists show only one's own, officials' personal data stay closed; nothing
changes. (The same over Kafka: tests/integration/test_commands_over_kafka.py.)"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.embedded.app import create_embedded_app, settled
from shared.http.tokens import DevIssuer
from tests.samples import ending_body, need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e

HOSTS = ("SO_Y_TE", "SO_GIAO_DUC_DAO_TAO")
SECTOR = {"SO_Y_TE": "HEALTH", "SO_GIAO_DUC_DAO_TAO": "EDUCATION"}
"""A sector each host covers (a need in another is refused: SECTOR_NOT_COVERED)."""
HOMES = ("NAM_GIANG", "TAY_GIANG")
WRITE = ("needs:write", "secondments:write", "reception:write")
"""Every agency holds every write scope: only the records' parties separate them."""


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    issuer: DevIssuer
    needs: dict[str, str]
    """host → its need"""
    secondments: dict[str, tuple[str, str, str]]
    """secondment → (home, host, official id)"""

    def who(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.mint(agency, WRITE)}"}

    async def history(self, sid: str) -> list[dict[str, Any]]:
        home = self.secondments[sid][0]
        answer = await self.client.get(f"/api/secondments/{sid}/history", headers=self.who(home))
        assert answer.status_code == 200, answer.text
        events: list[dict[str, Any]] = answer.json()
        return events


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            w = World(app, client, app.state.dev_issuer, {}, {})
            for host in HOSTS:
                body = need_body(host_unit=host, sector=SECTOR[host], positions=3)
                raised = await client.post("/api/needs", json=body, headers=w.who(host))
                assert raised.status_code == 201, raised.text
                w.needs[host] = raised.json()["need_id"]
            await settled(app)
            for home, host in zip(HOMES, HOSTS, strict=True):
                official = official_body(official_id=f"{home}-1", home_unit=home)
                body = secondment_body(w.needs[host], official=official)
                s = await client.post("/api/secondments", json=body, headers=w.who(home))
                assert s.status_code == 201, s.text
                w.secondments[s.json()["secondment_id"]] = (home, host, f"{home}-1")
            await settled(app)
            yield w


def _requests(w: World, agency: str) -> list[tuple[str, str, dict[str, Any] | None, int]]:
    """(method, path, body, expected status) of everything `agency` tries on others' records."""
    out: list[tuple[str, str, dict[str, Any] | None, int]] = []
    for host, nid in w.needs.items():
        if host == agency:
            continue
        out += [
            ("GET", f"/api/needs/{nid}", None, 404),
            ("PATCH", f"/api/needs/{nid}", {"positions": 1}, 403),
            ("POST", f"/api/needs/{nid}/withdrawal", {"reason": "Không cần"}, 403),
            ("POST", "/api/needs", need_body(host_unit=host), 403),
        ]
    for sid, (home, host, official_id) in w.secondments.items():
        if agency in (home, host):
            continue
        extension = {
            "new_planned_end_date": "2025-02-28",
            "decision": {"number": "1/QĐ", "date": "2024-10-01"},
        }
        theirs = official_body(official_id="X-1", home_unit=home)
        out += [
            ("GET", f"/api/secondments/{sid}", None, 404),
            ("GET", f"/api/secondments/{sid}/history", None, 404),
            ("POST", f"/api/secondments/{sid}/reception",
             {"received_on": "2024-09-03", "assigned_role": "Chuyên viên"}, 403),
            ("POST", f"/api/secondments/{sid}/extension", extension, 403),
            ("POST", f"/api/secondments/{sid}/ending", ending_body(), 403),
            ("POST", f"/api/secondments/{sid}/post-arrangement",
             {"arrangement": "OTHER", "effective_date": "2025-03-01"}, 403),
            ("POST", f"/api/secondments/{sid}/cancellation", {"reason": "Nhầm"}, 403),
            ("POST", "/api/secondments", secondment_body(w.needs[HOSTS[0]], official=theirs), 403),
            ("GET", f"/api/officials/{official_id}/personal-data", None, 403),
            ("POST", f"/api/officials/{official_id}/erasure", None, 403),
        ]  # fmt: skip
    return out


async def test_each_agency_is_refused_every_other_agencys_records(world: World) -> None:
    before_needs = {
        nid: (await world.client.get(f"/api/needs/{nid}", headers=world.who(host))).json()
        for host, nid in world.needs.items()
    }
    before = {sid: await world.history(sid) for sid in world.secondments}
    tried = 0
    for agency in (*HOSTS, *HOMES):
        for method, path, body, status in _requests(world, agency):
            answer = await world.client.request(method, path, json=body, headers=world.who(agency))
            assert answer.status_code == status, (agency, method, path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            expected = {403: "FORBIDDEN", 404: "NOT_FOUND"}[status]
            assert answer.json()["rule"] == expected, (agency, method, path)
            tried += 1
    assert tried >= 60

    await settled(world.app)
    for sid in world.secondments:
        assert await world.history(sid) == before[sid]
    for host, nid in world.needs.items():
        now = await world.client.get(f"/api/needs/{nid}", headers=world.who(host))
        assert now.json() == before_needs[nid]


async def test_lists_show_each_agency_only_its_own_records(world: World) -> None:
    for agency in (*HOSTS, *HOMES):
        needs = await world.client.get("/api/needs", headers=world.who(agency))
        own_needs = {nid for host, nid in world.needs.items() if host == agency}
        assert {n["need_id"] for n in needs.json()["items"]} == own_needs, agency

        listed = await world.client.get("/api/secondments", headers=world.who(agency))
        own = {sid for sid, (home, host, _) in world.secondments.items() if agency in (home, host)}
        assert {s["secondment_id"] for s in listed.json()["items"]} == own, agency
        assert own, agency

        for filtered in ("home_unit", "host_unit"):
            for other in (*HOSTS, *HOMES):
                if other == agency:
                    continue
                page = await world.client.get(
                    f"/api/secondments?{filtered}={other}", headers=world.who(agency)
                )
                shown = {s["secondment_id"] for s in page.json()["items"]}
                assert shown <= own, (agency, filtered, other)


async def test_another_agencys_official_id_neither_blocks_nor_reveals_its_secondment(
    world: World,
) -> None:
    """Issue 15, item 6: official ids are the home authority's own. Before, TAY_GIANG
    seconding an official it numbers `NAM_GIANG-1` was refused OVERLAPPING_SECONDMENT with
    NAM_GIANG's secondment id and dates in the refusal."""
    theirs = next(sid for sid, (home, _, _) in world.secondments.items() if home == "NAM_GIANG")
    same_id = official_body(official_id="NAM_GIANG-1", home_unit="TAY_GIANG")
    body = secondment_body(world.needs[HOSTS[0]], official=same_id)
    answer = await world.client.post("/api/secondments", json=body, headers=world.who("TAY_GIANG"))
    assert answer.status_code == 201, answer.text
    assert theirs not in answer.text

    # Its own official, twice over the same dates, is still refused, naming its own record.
    again = await world.client.post("/api/secondments", json=body, headers=world.who("TAY_GIANG"))
    assert again.status_code == 422, again.text
    assert again.json()["rule"] == "OVERLAPPING_SECONDMENT"
    assert again.json()["secondment_id"] == answer.json()["secondment_id"]
    assert theirs not in again.text


async def test_report_readers_see_needs_and_figures_but_no_official(world: World) -> None:
    """Issue 15, item 1: `reports:read` (leadership, the dashboard's sign-in) granted every
    secondment with name, birth date, ethnicity and home unit. Report readers get figures;
    an official's record is for its parties."""
    reader = {"Authorization": f"Bearer {world.issuer.mint('UBND_TINH', ('reports:read',))}"}
    listed = await world.client.get("/api/secondments", headers=reader)
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    for sid, (_, _, official_id) in world.secondments.items():
        for path in (f"/api/secondments/{sid}", f"/api/secondments/{sid}/history"):
            answer = await world.client.get(path, headers=reader)
            assert answer.status_code == 404, (path, answer.text)
            assert "Alăng" not in answer.text
        found = await world.client.get(
            f"/api/secondments?official_id={official_id}", headers=reader
        )
        assert found.json()["items"] == []
    for nid in world.needs.values():  # needs name no one: readable for the figures
        assert (await world.client.get(f"/api/needs/{nid}", headers=reader)).status_code == 200
    evaluation = await world.client.get(
        "/api/reports/phases/2024-2025/evaluation",
        params={"as_of": "2025-12-31"},
        headers=reader,
    )
    assert evaluation.status_code == 200
    assert evaluation.json()["secondments"]["started"] == len(world.secondments)
