"""An identity the agency sealed for our intake key that opens but is not a valid identity (a
birth date written 19/07/1983, a name too long) is refused, and the refusal never repeats what
it held: pydantic's error text quotes the failing input, and a refusal's text goes back in the
answer, is remembered with its `Idempotency-Key` in the service's database and is audited."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from fastapi import FastAPI

from services.embedded.app import create_embedded_app, settled
from shared.contract.crypto import b64, unb64
from shared.contract.personal import (
    INTAKE_SUITE,
    IntakeSealed,
    intake_jwk,
    intake_key_id,
    open_from_intake,
)
from shared.http.tokens import DevIssuer
from tests.auth import HOME_SCOPES, HOST_SCOPES, headers
from tests.samples import need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e

NAME = "Bríu Thị Kín Đáo"
BIRTH = "19/07/1983"  # not ISO 8601: the identity opens, and does not validate


def _sealed(jwk: dict[str, str], official_id: str, identity: dict[str, object]) -> IntakeSealed:
    """As an agency's own HPKE library seals whatever it was given (RFC 9180, base mode)."""
    key = X25519PublicKey.from_public_bytes(unb64(jwk["x"]))
    info = f"secondment/intake/official/{official_id}/identity".encode()
    ciphertext = INTAKE_SUITE.encrypt(json.dumps(identity).encode(), key, info=info)
    return IntakeSealed(kid=jwk["kid"], ciphertext=b64(ciphertext))


def test_an_identity_that_opens_invalid_is_refused_without_its_content() -> None:
    private = X25519PrivateKey.generate()
    jwk = intake_jwk(private.public_key())
    assert jwk["kid"] == intake_key_id(private.public_key())
    sealed = _sealed(jwk, "OFF-1", {"full_name": NAME, "birth_date": BIRTH})
    with pytest.raises(ValueError, match="birth_date") as refused:
        open_from_intake(private, "OFF-1", sealed)
    told = str(refused.value)
    assert NAME not in told
    assert BIRTH not in told


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    created = create_embedded_app(tmp_path / "var")
    async with created.router.lifespan_context(created):
        yield created


async def test_over_http_the_refusal_answered_remembered_and_audited_holds_none_of_it(
    app: FastAPI, tmp_path: Path
) -> None:
    issuer: DevIssuer = app.state.dev_issuer
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
        host = headers("SO_Y_TE", *HOST_SCOPES, issuer=issuer)
        need = await client.post("/api/needs", json=need_body(), headers=host)
        await settled(app)
        jwk = (await client.get("/api/personal-data/intake-key")).json()
        official = official_body(official_id="OFF-SEALED-1")
        del official["full_name"], official["birth_date"]
        identities: tuple[dict[str, object], ...] = (
            {"full_name": NAME, "birth_date": BIRTH},
            {"full_name": NAME, "birth_date": "1983-07-19", "gender": "F"},  # not its field
            {"full_name": [NAME, BIRTH], "birth_date": "1983-07-19"},
        )
        for n, identity in enumerate(identities):
            official["identity_sealed"] = _sealed(jwk, "OFF-SEALED-1", identity).model_dump()
            body = secondment_body(need.json()["need_id"], official=official)
            home = headers("NAM_GIANG", *HOME_SCOPES, issuer=issuer) | {
                "Idempotency-Key": f"sealed-{n}"
            }
            refused = await client.post("/api/secondments", json=body, headers=home)
            assert refused.status_code == 422, refused.text
            assert refused.json()["rule"] == "INVALID_REQUEST"
            assert NAME not in refused.text
            assert BIRTH not in refused.text
            again = await client.post("/api/secondments", json=body, headers=home)
            assert again.text == refused.text
        await settled(app)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "var").rglob("*") if p.is_file())
    for secret in (NAME, BIRTH):
        assert secret.encode() not in stored
