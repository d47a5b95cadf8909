"""Request bodies over the limit are refused with a 413 problem on every service: at once when
`Content-Length` says so, and while a body without one streams in; bodies up to the limit,
such as the largest need the contract allows, are served as before."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from services.placement.config import PlacementSettings
from services.reporting.config import ReportingSettings
from shared.http.app import compose_app
from shared.http.auth import TokenVerifier, load_issuers
from shared.http.limits import DEFAULT_MAX_BODY_BYTES
from shared.infra.transport import InProcessBus
from tests import auth
from tests.auth import TEST_KEYS, dev_issuer
from tests.samples import need_body

LIMIT = 4096
NEEDS = "/api/needs"
PROBLEM_TYPE = "https://secondment.quangnam.gov.vn/problems/request-too-large"


@pytest.fixture
async def needs(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The needs service's app, as its `__main__` composes it, with a small body limit."""
    bus = InProcessBus()
    settings = NeedsSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'needs.db'}",
        programme_key=TEST_KEYS["programme_key"],
    )
    app = compose_app(
        "needs",
        [NeedsService(settings, bus)],
        bus,
        TokenVerifier(load_issuers(dev_issuer().issuers_file)),
        max_body_bytes=LIMIT,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://needs", headers=auth.host()
        ) as client:
            yield client


def _padded(size: int) -> bytes:
    """A valid need as JSON, padded with whitespace to exactly `size` bytes."""
    raw = json.dumps(need_body()).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


async def _needs_raised(client: httpx.AsyncClient) -> int:
    page = await client.get(NEEDS)
    assert page.status_code == 200, page.text
    return len(page.json()["items"])


def _assert_too_large(response: httpx.Response, *, english: bool = False) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM_TYPE
    assert body["rule"] == "REQUEST_TOO_LARGE"
    assert body["status"] == 413
    assert body["instance"] == NEEDS
    assert body["detail"] == f"the request body is larger than {LIMIT} bytes"
    expected = "The request body is too large" if english else "Nội dung yêu cầu quá lớn"
    assert body["title"] == expected


async def test_a_declared_length_over_the_limit_is_a_413_problem(
    needs: httpx.AsyncClient,
) -> None:
    response = await needs.post(
        NEEDS,
        content=_padded(LIMIT + 1),
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )
    _assert_too_large(response, english=True)
    assert await _needs_raised(needs) == 0


async def test_a_streamed_body_is_refused_once_it_passes_the_limit_without_reading_the_rest(
    needs: httpx.AsyncClient,
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(100):  # 100 KiB in all, never announced by a Content-Length
            sent += 1
            yield b" " * 1024

    response = await needs.post(
        NEEDS, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    _assert_too_large(response)
    assert sent <= LIMIT // 1024 + 2, "the rest of the body was read"
    assert await _needs_raised(needs) == 0


async def test_a_streamed_body_with_an_idempotency_key_is_refused_and_not_remembered(
    needs: httpx.AsyncClient,
) -> None:
    """The idempotency middleware reads the body before any route does: still a 413."""
    body = _padded(LIMIT * 3)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    key = {"Content-Type": "application/json", "Idempotency-Key": "too-large-1"}
    refused = await needs.post(NEEDS, content=chunks(), headers=key)
    _assert_too_large(refused)
    assert await _needs_raised(needs) == 0
    # The key answered nothing: a retry with an acceptable body runs.
    accepted = await needs.post(NEEDS, content=_padded(LIMIT), headers=key)
    assert accepted.status_code == 201, accepted.text
    assert "Idempotent-Replayed" not in accepted.headers


async def test_a_body_of_exactly_the_limit_is_served(needs: httpx.AsyncClient) -> None:
    declared = await needs.post(
        NEEDS, content=_padded(LIMIT), headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 201, declared.text
    body = _padded(LIMIT)

    async def chunks() -> AsyncIterator[bytes]:
        yield body[: LIMIT // 2]
        yield body[LIMIT // 2 :]

    streamed = await needs.post(
        NEEDS, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 201, streamed.text
    assert await _needs_raised(needs) == 2


def test_every_service_defaults_to_one_mebibyte_and_reads_its_own_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    for settings in (NeedsSettings, PlacementSettings, ReportingSettings):
        assert settings().max_body_bytes == DEFAULT_MAX_BODY_BYTES
    monkeypatch.setenv("PLACEMENT_MAX_BODY_BYTES", "2048")
    assert PlacementSettings().max_body_bytes == 2048


def test_the_largest_need_the_contract_allows_fits_the_default_limit() -> None:
    """Its text fields at their maximum, in Vietnamese letters (escaped or UTF-8, as the
    importer's httpx sends them): still a tenth of 1 MiB at most."""
    longest = need_body(position_title="ệ" * 500, description="ệ" * 4000)
    for ascii_only in (True, False):
        size = len(json.dumps(longest, ensure_ascii=ascii_only).encode())
        assert size * 10 < DEFAULT_MAX_BODY_BYTES
