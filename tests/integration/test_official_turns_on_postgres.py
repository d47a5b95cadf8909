"""On PostgreSQL two secondments of one official decided at the same moment take turns (an
advisory lock on the official, taken in the statement that reads the need): one is made, the
others are refused as overlapping, never two overlapping secondments of one person."""

import asyncio
import functools
import uuid
from typing import Any

import pytest

from services.placement.bootstrap import PlacementService
from tests import auth
from tests.integration.system import (
    eventually,
    needs_app,
    new_deployment,
    placement_app,
    running,
)
from tests.samples import need_body, official_body, secondment_body
from tests.statements import statements_sent

pytestmark = pytest.mark.integration


async def test_one_official_seconded_at_once_to_several_needs_is_seconded_once(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    app = placement_app(d)
    official = official_body(official_id=f"NG-{uuid.uuid4().hex[:8]}")
    async with running(needs_app(d)) as needs, running(app) as placement:
        service = next(s for s in app.state.services if isinstance(s, PlacementService))
        need_ids = [
            (await needs.post("/api/needs", json=need_body(), headers=auth.host())).json()[
                "need_id"
            ]
            for _ in range(4)
        ]
        probe = official_body(official_id="NG-PROBE")

        async def known(need_id: str) -> int:
            body = secondment_body(need_id, official=probe)
            answer = await placement.post("/api/secondments", json=body, headers=auth.home())
            return answer.status_code

        for need_id in need_ids:  # every need known to placement before the race
            await eventually(functools.partial(known, need_id), lambda status: status != 503)
        with statements_sent(service.runtime.engine) as statements:
            answers = await asyncio.gather(
                *(
                    placement.post(
                        "/api/secondments",
                        json=secondment_body(n, official=official),
                        headers=auth.home(),
                    )
                    for n in need_ids
                )
            )
    assert sorted(a.status_code for a in answers) == [201, 422, 422, 422], [a.text for a in answers]
    refused = [a.json()["rule"] for a in answers if a.status_code != 201]
    assert refused == ["OVERLAPPING_SECONDMENT"] * 3
    locks = [s for s in statements if "pg_advisory_xact_lock" in s]
    assert len(locks) == 4  # one per command, in the statement that reads the need
    assert all("needs_view" in s for s in locks)


async def test_a_refused_secondment_leaves_the_position_it_took_and_the_last_one_goes_once(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    """The position is taken in the statement that reads the official's spells, before the
    rules run: a refusal gives it back with the transaction; two officials racing for the last
    position get it once."""
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with running(needs_app(d)) as needs, running(placement_app(d)) as placement:

        async def need(positions: int) -> str:
            body = need_body(positions=positions)
            made = await needs.post("/api/needs", json=body, headers=auth.host())
            return str(made.json()["need_id"])

        first, single = await need(2), await need(1)

        async def second(need_id: str, official_id: str) -> Any:
            body = secondment_body(need_id, official=official_body(official_id=official_id))
            return await eventually(
                lambda: placement.post("/api/secondments", json=body, headers=auth.home()),
                lambda r: r.status_code != 503,
            )

        tag = uuid.uuid4().hex[:6]
        assert (await second(first, f"NG-A{tag}")).status_code == 201
        overlapping = await second(single, f"NG-A{tag}")
        assert overlapping.json()["rule"] == "OVERLAPPING_SECONDMENT"
        assert (await second(single, f"NG-B{tag}")).status_code == 201  # still free

        raced = await asyncio.gather(*(second(first, f"NG-{n}{tag}") for n in "CDEF"))
        assert sorted(r.status_code for r in raced) == [201, 409, 409, 409]
        assert {r.json()["rule"] for r in raced if r.status_code == 409} == {"NEED_FULL"}
