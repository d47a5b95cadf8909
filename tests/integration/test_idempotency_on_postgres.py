"""`Idempotency-Key` on PostgreSQL: requests racing with one key wait for each other on the
key's row; one need is raised and every request gets its answer. An expired answer is replaced
by the next request with its key (one statement: an insert that overwrites only an expired
row)."""

import asyncio
import datetime as dt

import pytest

import shared.http.idempotency as idempotency
from tests import auth
from tests.integration.system import needs_app, new_deployment, running
from tests.samples import need_body

pytestmark = pytest.mark.integration


async def test_racing_requests_with_one_key_raise_one_need(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with running(needs_app(d)) as needs:
        headers = auth.host() | {"Idempotency-Key": "race-on-postgres"}
        answers = await asyncio.gather(
            *(needs.post("/api/needs", json=need_body(), headers=headers) for _ in range(8))
        )
        assert {a.status_code for a in answers} == {201}
        assert len({a.json()["need_id"] for a in answers}) == 1
        assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 7
        listed = await needs.get("/api/needs", headers=auth.host())
        assert len(listed.json()["items"]) == 1

        other = await needs.post("/api/needs", json=need_body(positions=1), headers=headers)
        assert (other.status_code, other.json()["rule"]) == (422, "INVALID_REQUEST")


async def test_an_expired_key_runs_again_and_a_live_one_is_answered_on_postgres(
    kafka_bootstrap: str, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with running(needs_app(d)) as needs:
        headers = auth.host() | {"Idempotency-Key": "expires-on-postgres"}
        monkeypatch.setattr(idempotency, "HTTP_ANSWER_TTL", dt.timedelta(seconds=-1))
        first = await needs.post("/api/needs", json=need_body(), headers=headers)
        monkeypatch.undo()
        later = await needs.post("/api/needs", json=need_body(), headers=headers)
        again = await needs.post("/api/needs", json=need_body(), headers=headers)

        assert first.status_code == later.status_code == again.status_code == 201
        assert first.json()["need_id"] != later.json()["need_id"]  # the expired answer went
        assert again.json() == later.json()  # the answer that replaced it is live
        assert again.headers["Idempotent-Replayed"] == "true"
