"""At the HTTP boundary, every token the verifier refuses is a 401 `UNAUTHENTICATED` problem
with `WWW-Authenticate: Bearer`, on reads and on commands, and a refused command changes
nothing; the same request with a proper token is served (so the 401 is the token's doing)."""

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from shared.http.app import RunningService, compose_app
from shared.http.auth import Issuer, TokenVerifier, load_issuers
from shared.http.tokens import DevIssuer
from shared.infra.transport import InProcessBus
from tests.auth import HOST_SCOPES, TEST_KEYS
from tests.samples import need_body

READ = ("GET", "/api/reports/phases")
COMMAND = ("POST", "/api/needs")


def _claims(**changes: object) -> dict[str, object]:
    """The claims `DevIssuer.mint` writes for a host department, changed."""
    claims: dict[str, object] = {
        "iss": "https://id.dev.secondment.local",
        "aud": "secondment-api",
        "sub": "user@so_y_te",
        "agency": "SO_Y_TE",
        "scope": " ".join(HOST_SCOPES) + " reports:read",
        "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
    }
    return claims | changes


def _signed(issuer: DevIssuer, claims: dict[str, object]) -> str:
    key = serialization.load_pem_private_key(
        (issuer.folder / "private.pem").read_bytes(), password=None
    )
    return jwt.encode(claims, key, "ES256")  # type: ignore[arg-type]


def _hs256_with_the_public_key(issuer: DevIssuer) -> str:
    public = json.loads(issuer.issuers_file.read_text())[0]["public_keys"][0]
    return jwt.encode(_claims(), key=public.encode().hex(), algorithm="HS256")


def _without_agency(issuer: DevIssuer) -> str:
    claims = _claims()
    del claims["agency"]
    return _signed(issuer, claims)


NARROW = "https://sso.soyte.example"
"""A department's own sign-on, trusted for that department's host scopes only."""


def _narrow(folder: Path) -> DevIssuer:
    return DevIssuer(folder / "narrow", issuer=NARROW)


BAD_TOKENS: dict[str, Callable[[DevIssuer, Path], str]] = {
    "alg-none": lambda _i, _p: jwt.encode(_claims(), key=None, algorithm="none"),  # type: ignore[arg-type]
    "hs256-with-the-public-key": lambda i, _p: _hs256_with_the_public_key(i),
    "untrusted-issuer": lambda i, _p: _signed(i, _claims(iss="https://evil.example")),
    "another-audience": lambda i, _p: i.mint("SO_Y_TE", HOST_SCOPES, audience="another-api"),
    "expired": lambda i, _p: i.mint("SO_Y_TE", HOST_SCOPES, ttl=dt.timedelta(seconds=-1)),
    "another-key": lambda _i, p: DevIssuer(p / "impostor").ensure().mint("SO_Y_TE", HOST_SCOPES),
    "no-agency": lambda i, _p: _without_agency(i),
    "not-a-jwt": lambda _i, _p: "not-a-token",
    "issuer-asserting-another-agency": lambda _i, p: _narrow(p).mint("NAM_GIANG", HOST_SCOPES),
    "issuer-asserting-a-scope-beyond-its-own": lambda _i, p: _narrow(p).mint(
        "SO_Y_TE", [*HOST_SCOPES, "reports:read", "personal-data:erase"]
    ),
    "lives-thirty-days": lambda i, _p: i.mint("SO_Y_TE", HOST_SCOPES, ttl=dt.timedelta(days=30)),
    "lives-a-year-without-iat": lambda i, _p: _signed(
        i, _claims(exp=dt.datetime.now(dt.UTC) + dt.timedelta(days=365))
    ),
}


@pytest.fixture(scope="module")
async def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[httpx.AsyncClient, DevIssuer, Path]]:
    """The needs and reporting services composed as one app, trusting one dev issuer."""
    folder = tmp_path_factory.mktemp("tokens")
    issuer = DevIssuer(folder / "keys").ensure()
    bus = InProcessBus()
    key = TEST_KEYS["programme_key"]
    services: list[RunningService] = [
        NeedsService(
            NeedsSettings(database_url=f"sqlite+aiosqlite:///{folder / 'n.db'}", programme_key=key),
            bus,
        ),
        ReportingService(
            ReportingSettings(database_url=f"sqlite+aiosqlite:///{folder / 'r.db'}"), bus
        ),
    ]
    narrow = _narrow(folder).ensure()
    trusted = [
        *load_issuers(issuer.issuers_file),
        Issuer(NARROW, load_issuers(narrow.issuers_file)[0].public_keys, ("SO_Y_TE",), HOST_SCOPES),
    ]
    app = compose_app("tokens", services, bus, TokenVerifier(trusted))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client, issuer, folder


async def _call(client: httpx.AsyncClient, route: tuple[str, str], token: str) -> httpx.Response:
    method, path = route
    body = need_body() if method == "POST" else None
    return await client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {token}"}
    )


async def _needs_raised(client: httpx.AsyncClient, issuer: DevIssuer) -> int:
    token = issuer.mint("SO_Y_TE", HOST_SCOPES)
    page = await client.get("/api/needs", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200, page.text
    return len(page.json()["items"])


@pytest.mark.parametrize("route", [READ, COMMAND], ids=["read", "command"])
@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_a_refused_token_is_a_401_problem_over_http(
    running: tuple[httpx.AsyncClient, DevIssuer, Path], kind: str, route: tuple[str, str]
) -> None:
    client, issuer, folder = running
    before = await _needs_raised(client, issuer)
    token = BAD_TOKENS[kind](issuer, folder)
    response = await _call(client, route, token)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["rule"] == "UNAUTHENTICATED"
    assert token not in response.text
    assert await _needs_raised(client, issuer) == before


@pytest.mark.parametrize("route", [READ, COMMAND], ids=["read", "command"])
async def test_the_same_request_with_a_proper_token_is_served(
    running: tuple[httpx.AsyncClient, DevIssuer, Path], route: tuple[str, str]
) -> None:
    client, issuer, _ = running
    response = await _call(client, route, _signed(issuer, _claims()))
    assert response.status_code in (200, 201), response.text


async def test_an_issuer_within_what_it_is_trusted_for_is_served(
    running: tuple[httpx.AsyncClient, DevIssuer, Path],
) -> None:
    client, _, folder = running
    response = await _call(client, COMMAND, _narrow(folder).mint("SO_Y_TE", HOST_SCOPES))
    assert response.status_code == 201, response.text


def test_an_issuers_file_without_bindings_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps([{"issuer": NARROW, "public_keys": []}]))
    with pytest.raises(ValueError, match="agencies, scopes"):
        load_issuers(path)


async def test_an_idempotency_key_belongs_to_its_issuer_too(
    running: tuple[httpx.AsyncClient, DevIssuer, Path],
) -> None:
    """The same `sub` and key from two issuers are two callers: neither gets the other's
    remembered answer (nor learns what the other did)."""
    client, issuer, folder = running
    key = {"Idempotency-Key": "same-key-two-issuers"}
    tokens = [issuer.mint("SO_Y_TE", HOST_SCOPES), _narrow(folder).mint("SO_Y_TE", HOST_SCOPES)]
    answers = [
        await client.post(
            "/api/needs", json=need_body(), headers=key | {"Authorization": f"Bearer {t}"}
        )
        for t in tokens
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert "idempotent-replayed" not in answers[1].headers
    assert answers[0].json()["need_id"] != answers[1].json()["need_id"]
