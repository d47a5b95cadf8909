"""Placement commands over Kafka taken a fetch at a time (`CommandProcessor.handle_many`, ADR
0008), on the embedded default's stores: two secondments to a need with one position in one
fetch fill it once, the second is refused NEED_FULL as alone it would be, and every command is
answered once."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.embedded.app import create_embedded_app, settled
from services.placement.adapters.tables import core, needs_view, secondments_view
from services.placement.bootstrap import PlacementService
from services.placement.entrypoints.kafka import command_routes
from shared.contract.commands import commands_topic
from shared.contract.topics import PLACEMENT_SOURCE
from shared.http.tokens import DevIssuer
from shared.infra.commands import CommandProcessor
from tests.auth import HOST_SCOPES, headers
from tests.samples import agency_command, need_body, official_body, secondment_body

HOME = "NAM_GIANG"


@dataclass
class Placement:
    service: PlacementService
    processor: CommandProcessor
    need_id: str


async def _need(app: FastAPI, positions: int) -> str:
    issuer: DevIssuer = app.state.dev_issuer
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
        made = await client.post(
            "/api/needs",
            json=need_body(positions=positions),
            headers=headers("SO_Y_TE", *HOST_SCOPES, issuer=issuer),
        )
    assert made.status_code == 201, made.text
    await settled(app)
    return str(made.json()["need_id"])


@pytest.fixture
async def placement(tmp_path: Path) -> AsyncIterator[Placement]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        service = next(s for s in app.state.services if isinstance(s, PlacementService))

        async def ensure(_: str) -> None:
            return None

        processor = CommandProcessor(
            source=PLACEMENT_SOURCE,
            routes=command_routes(service.ports),
            answers=service.answers,
            outbox=core.outbox,
            topic_prefix="",
            on_commit=lambda: None,
            ensure_topic=ensure,
            rejects_unknown_types=False,
            retry_for=0.2,
        )
        yield Placement(service, processor, await _need(app, positions=1))


def _second(need_id: str, official_id: str, command_id: str) -> bytes:
    body = secondment_body(need_id, official=official_body(official_id=official_id))
    return agency_command(HOME, "SecondOfficial", body, command_id)


async def _replies(p: Placement) -> dict[str, str]:
    """Each command id's reply type (and rule, for a rejection), from the outbox."""
    async with p.service.runtime.sessions() as session:
        payloads = (await session.scalars(select(core.outbox.c.payload))).all()
    found: dict[str, str] = {}
    for payload in payloads:
        reply = json.loads(payload)
        if reply.get("type") in ("CommandAccepted", "CommandRejected"):
            data = reply["data"]
            rule = data.get("rule")
            found[data["command_id"]] = reply["type"] + (f" {rule}" if rule else "")
    return found


async def test_two_secondments_to_one_free_position_in_one_fetch_fill_it_once(
    placement: Placement,
) -> None:
    fetch = [
        _second(placement.need_id, "NG-A", "cmd-a"),
        _second(placement.need_id, "NG-B", "cmd-b"),
    ]
    topic = commands_topic(HOME)
    taken = await placement.processor.handle_many(topic, fetch)
    # Both in one run: the second reads the position the first took in the shared transaction
    # and is refused before it writes anything, so its refusal is answered inside the run.
    assert taken == 2
    for body in fetch[taken:]:  # what the run left goes one by one, as the consumer does
        await placement.processor.handle(topic, body)

    assert await _replies(placement) == {
        "cmd-a": "CommandAccepted",
        "cmd-b": "CommandRejected NEED_FULL",
    }
    async with placement.service.runtime.sessions() as session:
        taken_positions = await session.scalar(
            select(needs_view.c.taken).where(needs_view.c.need_id == placement.need_id)
        )
        seconded = (await session.scalars(select(secondments_view.c.official_id))).all()
    assert taken_positions == 1
    assert list(seconded) == ["NG-A"]
