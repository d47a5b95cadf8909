"""Signing in to the dashboard: anonymous visitors are sent to /login; a demo account or a
valid token opens a session cookie that is Secure, HttpOnly, SameSite=Strict and `__Host-`;
wrong ones don't. The cookie reads the dashboard and exports, and nothing else; forms posted
from another site are refused; signing out ends the session on the server."""

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
from tests.browser import Browser


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Browser]:
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
        async with Browser(transport=transport, base_url="https://svc") as c:
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
    assert "samesite=strict" in cookie
    assert cookie.startswith("__host-session=")
    assert "domain=" not in cookie
    assert "path=/" in cookie
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


async def _signed_in(client: Browser) -> str:
    signed = await client.post("/login", data={"username": "lanhdao", "password": "s3cret"})
    assert signed.status_code == 303
    return client.cookies["__Host-session"]


async def test_a_forged_sign_in_from_another_site_is_refused(client: Browser) -> None:
    """Login CSRF: another site must not sign the browser in to an account of its choice."""
    issuer = DevIssuer(Path(client.headers["x-issuer-folder"]))
    attackers = issuer.mint("UBND_TINH", ["reports:read"], subject="attacker@demo")
    await client.get("/login")  # the browser has its CSRF cookie, the other site not its value
    for origin, csrf in (
        ("https://evil.example", client.cookies["__Host-csrf"]),  # right token, other origin
        ("https://svc", "guessed"),  # right origin, wrong token
    ):
        forged = await client.forged_post(
            "/login", {"token": attackers, "csrf": csrf}, origin=origin
        )
        assert forged.status_code == 403
        assert "set-cookie" not in forged.headers
    no_origin = await httpx.AsyncClient.post(
        client, "/login", data={"token": attackers, "csrf": client.cookies["__Host-csrf"]}
    )
    assert no_origin.status_code == 403


async def test_the_cookie_reads_the_dashboard_and_exports_only(client: Browser) -> None:
    await _signed_in(client)
    assert (await client.get("/")).status_code == 200
    export = await client.get("/api/reports/phases/2024-2025/evaluation.csv")
    assert export.status_code == 200
    # The rest of the API wants the Authorization header: the cookie alone is not a bearer.
    assert (await client.get("/api/reports/phases")).status_code == 401


async def test_signing_out_ends_the_session_on_the_server(client: Browser) -> None:
    token = await _signed_in(client)
    assert (await client.get("/")).status_code == 200
    forged = await client.forged_post("/logout", {"csrf": "guessed"})
    assert forged.status_code == 403  # another site cannot sign the browser out either
    signed_out = await client.post("/logout")
    assert signed_out.status_code == 303
    # A copy of the cookie (stolen before the sign-out) opens nothing any more.
    client.cookies.set("__Host-session", token)
    replayed = await client.get("/")
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")
    export = await client.get("/api/reports/phases/2024-2025/evaluation.csv")
    assert export.status_code == 401


async def test_pages_forbid_framing_sniffing_and_scripts_not_their_own(client: Browser) -> None:
    page = await client.get("/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<style nonce="{nonce}">' in page.text  # the page's own block runs, nothing else
    await _signed_in(client)
    dashboard = await client.get("/")
    assert "onchange=" not in dashboard.text
    assert "onclick=" not in dashboard.text
    scripts = dashboard.text.count("<script nonce=")
    assert scripts == 1
    assert dashboard.headers["content-security-policy"] != csp  # a fresh nonce per page
    api = await client.get("/api/reports/phases")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers  # JSON: nothing to police


async def test_behind_a_tls_proxy_the_sites_own_forms_still_sign_in(client: Browser) -> None:
    """The proxy ends TLS: the browser's `Origin` says https, the service sees http. Same
    host, same site; a look-alike host is not."""
    await client.get("/login")
    csrf = client.cookies["__Host-csrf"]
    data = {"username": "lanhdao", "password": "s3cret", "csrf": csrf}
    lookalike = await client.forged_post("/login", data, origin="https://svc.evil.example")
    assert lookalike.status_code == 403
    proxied = await client.forged_post("/login", data, origin="http://svc")
    assert proxied.status_code == 303
