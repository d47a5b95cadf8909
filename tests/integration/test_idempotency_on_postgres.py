"""`Idempotency-Key` on PostgreSQL: requests racing with one key wait for each other on the
key's row; one need is raised and every request gets its answer."""

import asyncio

import pytest

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
