"""The services' server freezes start-up's objects: a full garbage collection no longer scans
them, and no longer stalls every request for 100 ms (`shared.http.server.Server`)."""

import asyncio
import gc
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from shared.http.limits import HttpLimitSettings
from shared.http.server import Server


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    """The test process gets its objects back into the collector's sight afterwards."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/collector")
    async def collector() -> dict[str, int]:
        return {"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}

    return app


async def _collector_seen_by_a_request(server_class: type[uvicorn.Server]) -> dict[str, int]:
    config = HttpLimitSettings().uvicorn_config(_app(), "127.0.0.1", 0, log_level="critical")
    server = server_class(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # uvicorn has no start event to wait on
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/collector")
        seen: dict[str, int] = answer.json()
        return seen
    finally:
        server.should_exit = True
        await serving


@pytest.mark.usefixtures("unfrozen_after")
async def test_what_start_up_made_is_out_of_the_collectors_sight() -> None:
    seen = await _collector_seen_by_a_request(Server)
    # The test process's modules, FastAPI's and pydantic's schemas: far more than what one
    # request leaves behind, and none of them scanned by a full collection any more.
    assert seen["frozen"] > 10 * seen["tracked"]


@pytest.mark.usefixtures("unfrozen_after")
async def test_a_plain_uvicorn_server_leaves_every_object_in_sight() -> None:
    seen = await _collector_seen_by_a_request(uvicorn.Server)
    assert seen["frozen"] == 0
    assert seen["tracked"] > 10_000
