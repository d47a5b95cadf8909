"""The HTTP server's own limits (uvicorn), from each service's settings: connections in
progress, idle keep-alive and the size of a request's header block — tried on a real uvicorn
server, as an attacker on the network would."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI

from services.needs.config import NeedsSettings
from shared.http.limits import HttpLimitSettings


def test_each_services_settings_reach_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEDS_HTTP_MAX_CONNECTIONS", "17")
    monkeypatch.setenv("NEEDS_HTTP_KEEP_ALIVE_SECONDS", "3")
    monkeypatch.setenv("NEEDS_HTTP_MAX_HEADER_BYTES", "8192")
    monkeypatch.setenv("NEEDS_HTTP_HEADER_TIMEOUT_SECONDS", "7.5")
    config = NeedsSettings().uvicorn_config(FastAPI(), "127.0.0.1", 0)
    assert isinstance(config, uvicorn.Config)
    assert config.limit_concurrency == 17
    assert config.timeout_keep_alive == 3
    assert config.h11_max_incomplete_event_size == 8192
    assert config.server_header is False
    config.load()
    assert getattr(config.http_protocol_class, "head_timeout", None) == 7.5


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(200), 10)
    writer.close()
    return answer


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """The server closed the connection: end of stream, or (after our writes) a reset."""
    try:
        return await asyncio.wait_for(reader.read(100), 5) == b""
    except ConnectionError:
        return True


@contextlib.asynccontextmanager
async def _serving(app: FastAPI, limits: HttpLimitSettings) -> AsyncIterator[int]:
    """A real uvicorn server with these limits on an ephemeral port; yields the port."""
    server = uvicorn.Server(limits.uvicorn_config(app, "127.0.0.1", 0, log_level="critical"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # uvicorn has no start event to wait on
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await serving


def _counting_app(seen: list[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        seen.append("called")
        return {}

    return app


async def test_a_header_block_over_the_limit_is_refused_before_the_app_sees_it() -> None:
    seen: list[str] = []
    limits = HttpLimitSettings(http_max_header_bytes=4096)
    async with _serving(_counting_app(seen), limits) as port:
        ok = await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
        huge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 1024 * 1024 + b"\r\n\r\n"
        refused = await _raw(port, huge)
        assert refused.startswith(b"HTTP/1.1 400")
        assert seen == ["called"]


async def test_idle_and_trickling_connections_cannot_hold_every_place() -> None:
    """Sockets that send nothing, or a request head a few bytes at a time (slowloris), count
    against the connection limit: without a deadline for the head a handful of them made the
    server answer 503 to everybody, for as long as the attacker kept them open."""
    seen: list[str] = []
    limits = HttpLimitSettings(http_max_connections=4, http_header_timeout_seconds=1)
    async with _serving(_counting_app(seen), limits) as port:
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        trickling = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]

        async def trickle(writer: asyncio.StreamWriter) -> None:
            writer.write(b"GET / HTTP/1.1\r\n")
            with contextlib.suppress(ConnectionError):
                for n in range(40):
                    await asyncio.sleep(0.1)
                    writer.write(f"X-{n}: y\r\n".encode())
                    await writer.drain()

        slow = [asyncio.create_task(trickle(w)) for _, w in trickling]
        try:
            await asyncio.sleep(2)  # past the 1 s deadline, the trickle still going
            ok = await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert ok.startswith(b"HTTP/1.1 200"), ok
            for reader, _ in [*idle, *trickling]:
                assert await _closed_by_server(reader)
        finally:
            for task in slow:
                task.cancel()
            for _, writer in [*idle, *trickling]:
                writer.close()
    assert seen == ["called"]


async def test_a_keep_alive_client_gets_its_next_request_served_within_the_deadline() -> None:
    """The deadline starts again after each answer: a client reusing its connection is not
    cut off because its first request was long ago."""
    seen: list[str] = []
    limits = HttpLimitSettings(http_header_timeout_seconds=1, http_keep_alive_seconds=5)
    async with _serving(_counting_app(seen), limits) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(3):
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                await writer.drain()
                answer = await asyncio.wait_for(reader.readuntil(b"{}"), 5)
                assert answer.startswith(b"HTTP/1.1 200"), answer
                await asyncio.sleep(0.7)  # 2.1 s on one connection, each head on time
        finally:
            writer.close()
    assert seen == ["called"] * 3
