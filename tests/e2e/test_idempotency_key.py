"""`Idempotency-Key` on every POST and PATCH of needs and placement (embedded app, SQLite):
a retry returns the first answer without running the command again, even when the service
failed after committing; another request under the same key is a 422 problem."""

import asyncio
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

import shared.http.idempotency as idempotency
from services.embedded.app import create_embedded_app, settled
from shared.http.tokens import DevIssuer
from shared.infra.uow import SqlUnitOfWork
from tests.auth import HOME_SCOPES, HOST_SCOPES, headers
from tests.samples import ending_body, need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e


@dataclass
class Embedded:
    app: FastAPI
    client: httpx.AsyncClient
    issuer: DevIssuer

    def host(self, subject: str | None = None) -> dict[str, str]:
        token = self.issuer.mint("SO_Y_TE", HOST_SCOPES, subject=subject)
        return {"Authorization": f"Bearer {token}"}

    def home(self) -> dict[str, str]:
        return headers("NAM_GIANG", *HOME_SCOPES, issuer=self.issuer)

    async def post(
        self, url: str, body: dict[str, Any], who: dict[str, str], key: str, method: str = "POST"
    ) -> httpx.Response:
        return await self.client.request(
            method, url, json=body, headers=who | {"Idempotency-Key": key}
        )


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[Embedded]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            yield Embedded(app, client, app.state.dev_issuer)


async def _needs(e: Embedded) -> list[dict[str, Any]]:
    page = await e.client.get("/api/needs?limit=500", headers=e.host())
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_a_retry_returns_the_first_answer_and_raises_one_need(embedded: Embedded) -> None:
    first = await embedded.post("/api/needs", need_body(), embedded.host(), "raise-1")
    retry = await embedded.post("/api/needs", need_body(), embedded.host(), "raise-1")

    assert first.status_code == 201, first.text
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [n["need_id"] for n in await _needs(embedded)] == [first.json()["need_id"]]


async def test_the_same_key_with_another_body_is_a_422_problem(embedded: Embedded) -> None:
    first = await embedded.post("/api/needs", need_body(), embedded.host(), "raise-2")
    other = await embedded.post("/api/needs", need_body(positions=3), embedded.host(), "raise-2")

    assert first.status_code == 201
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["rule"] == "INVALID_REQUEST"
    assert other.json()["idempotency_key"] == "raise-2"
    assert len(await _needs(embedded)) == 1


async def test_a_key_belongs_to_its_caller(embedded: Embedded) -> None:
    mine = await embedded.post("/api/needs", need_body(), embedded.host("a@so_y_te"), "k")
    theirs = await embedded.post("/api/needs", need_body(), embedded.host("b@so_y_te"), "k")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["need_id"] != theirs.json()["need_id"]


async def test_racing_requests_with_one_key_apply_once_and_all_get_the_same_answer(
    embedded: Embedded,
) -> None:
    answers = await asyncio.gather(
        *(embedded.post("/api/needs", need_body(), embedded.host(), "race") for _ in range(6))
    )

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["need_id"] for a in answers}) == 1
    assert len(await _needs(embedded)) == 1


async def test_every_command_of_the_lifecycle_is_applied_once_when_sent_twice(
    embedded: Embedded,
) -> None:
    e = embedded

    async def twice(
        url: str, body: dict[str, Any], who: dict[str, str], method: str = "POST"
    ) -> Any:
        key = str(uuid4())
        first = await e.post(url, body, who, key, method)
        second = await e.post(url, body, who, key, method)
        assert first.status_code in (200, 201), first.text
        assert (second.status_code, second.json()) == (first.status_code, first.json())
        assert second.headers["Idempotent-Replayed"] == "true"
        return first.json()

    need = await twice("/api/needs", need_body(positions=1), e.host())
    nid = need["need_id"]
    await twice(f"/api/needs/{nid}", {"positions": 3}, e.host(), method="PATCH")
    other = await twice("/api/needs", need_body(position_title="Chuyên viên"), e.host())
    await twice(f"/api/needs/{other['need_id']}/withdrawal", {"reason": "Đổi kế hoạch"}, e.host())
    await settled(e.app)
    s = await twice(
        "/api/secondments", secondment_body(nid, planned_end_date="2024-12-31"), e.home()
    )
    sid = s["secondment_id"]
    await twice(
        f"/api/secondments/{sid}/reception",
        {"received_on": "2024-09-03", "assigned_role": "Phó Trưởng phòng"},
        e.host(),
    )
    await twice(
        f"/api/secondments/{sid}/extension",
        {
            "new_planned_end_date": "2025-02-28",
            "decision": {"number": "9/QĐ", "date": "2024-10-01"},
        },
        e.home(),
    )
    await twice(f"/api/secondments/{sid}/ending", ending_body(), e.home())
    await twice(
        f"/api/secondments/{sid}/post-arrangement",
        {"arrangement": "RETURNED_TO_FORMER_POST", "effective_date": "2025-03-01"},
        e.home(),
    )
    body = secondment_body(nid, official=official_body(official_id="NG-0002"))
    cancelled = await twice("/api/secondments", body, e.home())
    await twice(
        f"/api/secondments/{cancelled['secondment_id']}/cancellation",
        {"reason": "Nhập nhầm"},
        e.home(),
    )

    history = await e.client.get(f"/api/secondments/{sid}/history", headers=e.home())
    assert [h["type"] for h in history.json()] == [
        "OfficerSeconded",
        "OfficialReceived",
        "SecondmentExtended",
        "SecondmentEnded",
        "PostSecondmentArranged",
    ]


async def test_a_rule_refusal_is_remembered_and_a_forbidden_one_is_not(
    embedded: Embedded,
) -> None:
    e = embedded
    unknown = need_body(sector="NO_SUCH_SECTOR")
    refused = await e.post("/api/needs", unknown, e.host(), "unknown-sector")
    again = await e.post("/api/needs", unknown, e.host(), "unknown-sector")
    assert refused.status_code == 422
    assert refused.json()["rule"] == "UNKNOWN_CODE"
    assert (again.status_code, again.json()) == (refused.status_code, refused.json())
    assert again.headers["Idempotent-Replayed"] == "true"

    no_scope = {"Authorization": f"Bearer {e.issuer.mint('SO_Y_TE', ())}"}
    forbidden = await e.post("/api/needs", need_body(), no_scope, "scope-later")
    assert forbidden.status_code == 403
    granted = await e.post("/api/needs", need_body(), e.host(), "scope-later")
    assert granted.status_code == 201, granted.text
    assert "Idempotent-Replayed" not in granted.headers


async def test_the_answer_commits_with_the_events_so_a_retry_after_a_failure_applies_nothing(
    embedded: Embedded, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = SqlUnitOfWork.commit

    async def crash(uow: SqlUnitOfWork, answer: BaseModel | None = None) -> None:
        await commit(uow, answer)
        raise OSError("the service stopped after committing")

    with monkeypatch.context() as m:
        m.setattr(SqlUnitOfWork, "commit", crash)
        lost = await embedded.post("/api/needs", need_body(), embedded.host(), "crash")
    assert lost.status_code == 500
    committed = await _needs(embedded)
    assert len(committed) == 1

    retry = await embedded.post("/api/needs", need_body(), embedded.host(), "crash")

    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["need_id"] == committed[0]["need_id"]
    assert len(await _needs(embedded)) == 1


async def test_an_expired_key_runs_the_request_again(
    embedded: Embedded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "HTTP_ANSWER_TTL", dt.timedelta(seconds=-1))
    first = await embedded.post("/api/needs", need_body(), embedded.host(), "old")
    later = await embedded.post("/api/needs", need_body(), embedded.host(), "old")

    assert first.status_code == later.status_code == 201
    assert first.json()["need_id"] != later.json()["need_id"]


async def test_a_malformed_key_is_a_422_problem(embedded: Embedded) -> None:
    answer = await embedded.post("/api/needs", need_body(), embedded.host(), "x" * 201)
    assert answer.status_code == 422
    assert answer.json()["rule"] == "INVALID_REQUEST"
    assert await _needs(embedded) == []


async def test_a_remembered_answer_holds_no_official_name_in_clear(
    embedded: Embedded, tmp_path: Path
) -> None:
    e = embedded
    need = await e.post("/api/needs", need_body(), e.host(), str(uuid4()))
    await settled(e.app)
    key = str(uuid4())
    body = secondment_body(need.json()["need_id"])
    first = await e.post("/api/secondments", body, e.home(), key)
    assert first.status_code == 201, first.text
    name = body["official"]["full_name"]
    assert first.json()["official"]["full_name"] == name
    with sqlite3.connect(tmp_path / "var" / "placement.db") as db:
        stored = [row[0] for row in db.execute("SELECT answer FROM command_answers")]
    assert stored
    assert not any(name in (answer or "") for answer in stored)
    assert not any(body["official"]["birth_date"] in (answer or "") for answer in stored)
    retry = await e.post("/api/secondments", body, e.home(), key)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
