"""The HTTP server's own limits (uvicorn), from each service's settings: connections in
progress, idle keep-alive and the size of a request's header block — tried on a real uvicorn
server, as an attacker on the network would."""

import asyncio

import pytest
import uvicorn
from fastapi import FastAPI

from services.needs.config import NeedsSettings
from shared.http.limits import HttpLimitSettings


def test_each_services_settings_reach_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDS_HTTP_MAX_CONNECTIONS", "17")
    monkeypatch.setenv("NEEDS_HTTP_KEEP_ALIVE_SECONDS", "3")
    monkeypatch.setenv("NEEDS_HTTP_MAX_HEADER_BYTES", "8192")
    config = NeedsSettings().uvicorn_config(FastAPI(), "127.0.0.1", 0)
    assert isinstance(config, uvicorn.Config)
    assert config.limit_concurrency == 17
    assert config.timeout_keep_alive == 3
    assert config.h11_max_incomplete_event_size == 8192
    assert config.server_header is False


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(200), 10)
    writer.close()
    return answer


async def test_a_header_block_over_the_limit_is_refused_before_the_app_sees_it() -> None:
    app = FastAPI()
    seen: list[str] = []

    @app.get("/")
    async def root() -> dict[str, str]:
        seen.append("called")
        return {}

    limits = HttpLimitSettings(http_max_header_bytes=4096)
    server = uvicorn.Server(limits.uvicorn_config(app, "127.0.0.1", 0, log_level="critical"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # uvicorn has no start event to wait on
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        ok = await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
        huge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 1024 * 1024 + b"\r\n\r\n"
        refused = await _raw(port, huge)
        assert refused.startswith(b"HTTP/1.1 400")
        assert seen == ["called"]
    finally:
        server.should_exit = True
        await serving
