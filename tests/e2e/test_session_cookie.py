"""The dashboard's sign-in cookie on the embedded system, where every service shares one
origin: it reads the dashboard and the exports and changes nothing — a page of another site
that makes a signed-in browser post to the API gets a 401, even for the data-protection
officer's own session."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.embedded.app import create_embedded_app
from tests.browser import Browser

pytestmark = pytest.mark.e2e


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with Browser(transport=transport, base_url="https://embedded") as client:
            dpo = app.state.dev_issuer.mint(
                "SO_NOI_VU", ["personal-data:erase", "audit:read", "reports:read"]
            )
            signed = await client.post("/login", data={"token": dpo})
            assert signed.status_code == 303
            yield client


async def test_the_cookie_alone_changes_nothing_and_reads_no_personal_data(
    browser: Browser,
) -> None:
    assert (await browser.get("/")).status_code == 200
    erasure = "/api/officials/NG-0001/erasure"
    for response in (
        await browser.forged_post(erasure, {}),  # another site's form, cookie attached
        await browser.post(erasure),  # even from our own origin: not without the header
        await browser.get("/api/officials/NG-0001/personal-data"),
        await browser.get("/api/audit"),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["rule"] == "UNAUTHENTICATED"
