"""Signing in to the dashboard: anonymous visitors are sent to /login; a demo account or a
valid token opens a session cookie that is Secure, HttpOnly and SameSite; wrong ones don't."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from services.reporting.entrypoints.login import DemoAccount
from shared.http.app import compose_app
from shared.http.auth import TokenVerifier, load_issuers
from shared.http.tokens import DevIssuer
from shared.infra.transport import InProcessBus


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    issuer = DevIssuer(tmp_path / "keys").ensure()
    url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    bus = InProcessBus()
    app = compose_app(
        "reporting",
        [ReportingService(ReportingSettings(database_url=url), bus)],
        bus,
        TokenVerifier(load_issuers(issuer.issuers_file)),
    )
    app.state.dev_issuer = issuer
    app.state.demo_accounts = [
        DemoAccount("lanhdao", "s3cret", "Lãnh đạo", "UBND_TINH", ("reports:read",))
    ]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://svc") as c:
            c.headers["x-issuer-folder"] = str(issuer.folder)
            yield c


async def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/?phase=2024-2025")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fphase%3D2024-2025"


async def test_a_demo_account_opens_a_protected_session(client: httpx.AsyncClient) -> None:
    signed = await client.post(
        "/login", data={"username": "lanhdao", "password": "s3cret", "next": "/?lang=en"}
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/?lang=en"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=lax" in cookie
    page = await client.get("/?lang=en")
    assert page.status_code == 200
    assert "Phase evaluation" in page.text


async def test_a_wrong_password_or_token_opens_nothing(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/login", data={"username": "lanhdao", "password": "guess"})
    assert wrong.headers["location"].startswith("/login?error=account")
    assert "set-cookie" not in wrong.headers
    forged = await client.post("/login", data={"token": "eyJhbGciOiJub25lIn0.e30."})
    assert forged.headers["location"].startswith("/login?error=token")
    assert "set-cookie" not in forged.headers


async def test_a_valid_token_signs_in_and_next_never_leaves_the_site(
    client: httpx.AsyncClient,
) -> None:
    issuer = DevIssuer(Path(client.headers["x-issuer-folder"]))
    token = issuer.mint("UBND_TINH", ["reports:read"])
    signed = await client.post("/login", data={"token": token, "next": "//evil.example/"})
    assert signed.status_code == 303
    assert signed.headers["location"] == "/"


async def test_the_report_api_wants_a_reader(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/api/reports/phases")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    issuer = DevIssuer(Path(client.headers["x-issuer-folder"]))
    host = issuer.mint("SO_Y_TE", ["needs:write"])
    refused = await client.get("/api/reports/phases", headers={"Authorization": f"Bearer {host}"})
    assert refused.status_code == 403
    assert refused.json()["rule"] == "FORBIDDEN"
