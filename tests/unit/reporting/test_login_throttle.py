"""Guessing at the dashboard's sign-in is throttled: after five failures within fifteen minutes
for one user name, or from one client address, further attempts are a 429 with `Retry-After`
that says nothing of what was wrong; other users and other addresses sign in as before, and
the window slides."""

import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from services.reporting.entrypoints.login import DemoAccount
from services.reporting.entrypoints.throttle import LoginThrottle
from shared.http.app import compose_app
from shared.http.auth import TokenVerifier, load_issuers
from shared.http.tokens import DevIssuer
from shared.infra.transport import InProcessBus
from tests.browser import Browser

LIMIT = 5
WINDOW = 15 * 60.0
ACCOUNTS = {"lanhdao": "s3cret", "chuyenvien": "an0ther"}


@dataclass
class Clock:
    """Monotonic seconds the test moves by hand."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Dashboard:
    app: FastAPI
    clock: Clock
    issuer: DevIssuer

    def client_at(self, address: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        """A browser at this client address."""

        @asynccontextmanager
        async def opened() -> AsyncIterator[httpx.AsyncClient]:
            transport = httpx.ASGITransport(app=self.app, client=(address, 50000))
            async with Browser(transport=transport, base_url="https://svc") as c:
                yield c

        return opened()


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    issuer = DevIssuer(tmp_path / "keys").ensure()
    bus = InProcessBus()
    url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    service = ReportingService(ReportingSettings(database_url=url), bus)
    clock = Clock()
    service.login_throttle = LoginThrottle(LIMIT, WINDOW, clock=clock)
    app = compose_app("reporting", [service], bus, TokenVerifier(load_issuers(issuer.issuers_file)))
    app.state.dev_issuer = issuer
    app.state.demo_accounts = [
        DemoAccount(user, password, user, "UBND_TINH", ("reports:read",))
        for user, password in ACCOUNTS.items()
    ]
    async with app.router.lifespan_context(app):
        yield Dashboard(app, clock, issuer)


def account(username: str, password: str) -> dict[str, str]:
    return {"username": username, "password": password, "next": "/"}


def _assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= WINDOW
    assert "set-cookie" not in response.headers
    assert "Too many failed sign-ins" in response.text


def _without_retry_after(response: httpx.Response) -> tuple[int, str, str]:
    """Status, body and headers but `Retry-After` (which only says when) and the page's CSP
    nonce (fresh on every page, saying nothing either)."""
    varying = ("retry-after", "content-security-policy")
    headers = sorted((k, v) for k, v in response.headers.items() if k not in varying)
    return response.status_code, re.sub(r'nonce="[^"]*"', "", response.text), repr(headers)


async def test_five_wrong_passwords_lock_the_user_name_with_a_429_that_tells_nothing(
    dashboard: Dashboard,
) -> None:
    async with dashboard.client_at("10.0.0.1") as browser:
        for _ in range(LIMIT):
            wrong = await browser.post("/login", data=account("lanhdao", "guess"))
            assert wrong.status_code == 303
            assert wrong.headers["location"].startswith("/login?error=account")
        wrong_password = await browser.post("/login", data=account("lanhdao", "guess"))
        right_password = await browser.post("/login", data=account("lanhdao", "s3cret"))
        unknown_user = await browser.post("/login", data=account("nobody", "guess"))
        bad_token = await browser.post("/login", data={"token": "eyJhbGciOiJub25lIn0.e30."})
    for response in (wrong_password, right_password, unknown_user, bad_token):
        _assert_throttled(response)
    # One answer for every case: it cannot tell a wrong password from a wrong user or token.
    shapes = {_without_retry_after(r) for r in (right_password, unknown_user, bad_token)}
    assert shapes == {_without_retry_after(wrong_password)}
    assert int(wrong_password.headers["retry-after"]) == WINDOW


async def test_a_locked_user_name_is_locked_from_every_address_but_other_users_are_not(
    dashboard: Dashboard,
) -> None:
    for n in range(LIMIT):  # one guess each from many addresses
        async with dashboard.client_at(f"10.0.1.{n}") as browser:
            wrong = await browser.post("/login", data=account("lanhdao", f"guess-{n}"))
            assert wrong.status_code == 303
    async with dashboard.client_at("10.0.2.1") as elsewhere:
        _assert_throttled(await elsewhere.post("/login", data=account("lanhdao", "s3cret")))
        other = await elsewhere.post("/login", data=account("chuyenvien", "an0ther"))
    assert other.status_code == 303
    assert other.headers["location"] == "/"
    assert "set-cookie" in other.headers


async def test_a_guessing_address_is_locked_but_other_addresses_sign_in(
    dashboard: Dashboard,
) -> None:
    async with dashboard.client_at("10.0.3.1") as guesser:
        for n in range(LIMIT):  # another user name each time: no user reaches the limit
            wrong = await guesser.post("/login", data=account(f"user{n}", "guess"))
            assert wrong.status_code == 303
        _assert_throttled(await guesser.post("/login", data=account("chuyenvien", "an0ther")))
    async with dashboard.client_at("10.0.3.2") as colleague:
        signed = await colleague.post("/login", data=account("chuyenvien", "an0ther"))
    assert signed.status_code == 303
    assert "set-cookie" in signed.headers


async def test_pasted_tokens_are_throttled_per_address(dashboard: Dashboard) -> None:
    forged = {"token": "eyJhbGciOiJub25lIn0.e30."}
    async with dashboard.client_at("10.0.4.1") as guesser:
        for _ in range(LIMIT):
            refused = await guesser.post("/login", data=forged)
            assert refused.headers["location"].startswith("/login?error=token")
        valid = dashboard.issuer.mint("UBND_TINH", ["reports:read"])
        _assert_throttled(await guesser.post("/login", data={"token": valid}))
    async with dashboard.client_at("10.0.4.2") as other:
        signed = await other.post("/login", data={"token": valid})
    assert signed.status_code == 303
    assert "set-cookie" in signed.headers


async def test_the_window_slides_and_retry_after_says_when(dashboard: Dashboard) -> None:
    async with dashboard.client_at("10.0.5.1") as browser:
        for _ in range(LIMIT):
            await browser.post("/login", data=account("lanhdao", "guess"))
            dashboard.clock.now += 60  # one guess a minute
        locked = await browser.post("/login", data=account("lanhdao", "s3cret"))
        _assert_throttled(locked)
        # The first guess was 5 minutes ago: it leaves the window in 10 minutes.
        assert int(locked.headers["retry-after"]) == WINDOW - LIMIT * 60
        dashboard.clock.now += int(locked.headers["retry-after"])
        signed = await browser.post("/login", data=account("lanhdao", "s3cret"))
    assert signed.status_code == 303
    assert "set-cookie" in signed.headers


async def test_a_success_clears_the_user_names_failures(dashboard: Dashboard) -> None:
    async with dashboard.client_at("10.0.6.1") as browser:
        for _ in range(LIMIT - 1):
            await browser.post("/login", data=account("lanhdao", "guess"))
        assert (await browser.post("/login", data=account("lanhdao", "s3cret"))).status_code == 303
    async with dashboard.client_at("10.0.6.2") as later:
        for _ in range(LIMIT - 1):  # the earlier failures no longer count for the user
            wrong = await later.post("/login", data=account("lanhdao", "guess"))
            assert wrong.status_code == 303
        assert (await later.post("/login", data=account("lanhdao", "s3cret"))).status_code == 303


def test_the_limit_and_window_are_configured_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (ReportingSettings().login_max_failures, ReportingSettings().login_window_seconds) == (
        5,
        900,
    )
    monkeypatch.setenv("REPORTING_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("REPORTING_LOGIN_WINDOW_SECONDS", "60")
    service = ReportingService(
        ReportingSettings(database_url="sqlite+aiosqlite://"), InProcessBus()
    )
    assert (service.login_throttle.max_failures, service.login_throttle.window_seconds) == (3, 60)


def test_guessing_many_user_names_keeps_memory_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.reporting.entrypoints.throttle.MAX_KEYS", 10)
    clock = Clock()
    throttle = LoginThrottle(LIMIT, WINDOW, clock=clock)
    for n in range(50):
        clock.now += 1
        throttle.failed(f"user:{n}")
    assert len(throttle._failures) <= 10
    assert throttle.retry_after("user:49") is None  # one failure: not locked
