"""While the database restarts or fails over, a request answers 503 with `Retry-After` (the
client sends the same request again with the same Idempotency-Key), not a 500 with a
traceback in the log; a real failure stays a 500. Seen in the fault suite: every PostgreSQL
restart left 500s and tracebacks."""

import logging

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from shared.http.problems import install_problem_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/refused-connection")
    async def refused() -> None:
        raise sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused"))

    @app.post("/dropped-connection")
    async def dropped() -> None:
        raise sa_exc.DBAPIError(
            "INSERT", {}, Exception("connection was closed"), connection_invalidated=True
        )

    @app.post("/bug")
    async def bug() -> None:
        raise sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key"))

    return app


async def _post(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.post(path, headers={"Accept-Language": "en"})


@pytest.mark.parametrize("path", ["/refused-connection", "/dropped-connection"])
async def test_an_unreachable_database_is_a_503_to_retry(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answer = await _post(path)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "2"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 503
    assert "Idempotency-Key" in answer.json()["detail"]
    assert "Traceback" not in caplog.text
    assert "database unavailable" in caplog.text


async def test_any_other_database_error_is_still_a_500_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = await _post("/bug")
    assert answer.status_code == 500
    assert "Traceback" in caplog.text


async def test_a_refused_connection_is_a_503_and_a_local_os_error_a_500() -> None:
    app = _app()

    @app.post("/connect")
    async def connect() -> None:
        raise OSError(111, "Connect call failed ('127.0.0.1', 5432)")  # a ConnectionRefusedError

    @app.post("/disk")
    async def disk() -> None:
        raise OSError("the service stopped after committing")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        assert (await client.post("/connect")).status_code == 503
        assert (await client.post("/disk")).status_code == 500
