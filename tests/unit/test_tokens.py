"""Bearer tokens: only properly signed, unexpired tokens of a trusted issuer for our
audience name a caller; everything else is refused with a reason."""

import datetime as dt
import json
import os
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from shared.authz import Principal
from shared.http.auth import TokenVerifier, Unauthenticated, load_issuers
from shared.http.tokens import DevIssuer


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path / "keys").ensure()


@pytest.fixture
def verifier(issuer: DevIssuer) -> TokenVerifier:
    return TokenVerifier(load_issuers(issuer.issuers_file))


def _private_key(issuer: DevIssuer) -> object:
    return serialization.load_pem_private_key(
        (issuer.folder / "private.pem").read_bytes(), password=None
    )


def _claims(**changes: object) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, object] = {
        "iss": "https://id.dev.secondment.local",
        "aud": "secondment-api",
        "sub": "user@so_y_te",
        "agency": "SO_Y_TE",
        "scope": "needs:write reception:write",
        "exp": now + dt.timedelta(minutes=5),
    }
    return claims | changes


def test_a_valid_token_names_the_agency_and_its_scopes(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    principal = verifier.verify(issuer.mint("SO_Y_TE", ["needs:write", "reception:write"]))
    assert principal == Principal(
        agency="SO_Y_TE",
        scopes=frozenset({"needs:write", "reception:write"}),
        subject="user@so_y_te",
    )


def test_an_unsigned_alg_none_token_is_refused(verifier: TokenVerifier) -> None:
    token = jwt.encode(_claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated, match="algorithm 'none'"):
        verifier.verify(token)


def test_a_shared_secret_token_signed_with_the_public_key_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    public = json.loads(issuer.issuers_file.read_text())[0]["public_keys"][0]
    token = jwt.encode(_claims(), key=public.encode().hex(), algorithm="HS256")
    with pytest.raises(Unauthenticated, match="HS256"):
        verifier.verify(token)


def test_a_token_of_an_untrusted_issuer_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    token = jwt.encode(_claims(iss="https://evil.example"), _private_key(issuer), "ES256")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated, match="not trusted"):
        verifier.verify(token)


def test_a_token_for_another_audience_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.mint("SO_Y_TE", ["needs:write"], audience="another-api")
    with pytest.raises(Unauthenticated, match=r"(?i)audience"):
        verifier.verify(token)


def test_an_expired_token_is_refused(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    token = issuer.mint("SO_Y_TE", ["needs:write"], ttl=dt.timedelta(seconds=-1))
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(token)


def test_a_token_signed_by_another_key_of_the_same_issuer_name_is_refused(
    tmp_path: Path, verifier: TokenVerifier
) -> None:
    impostor = DevIssuer(tmp_path / "other").ensure()
    with pytest.raises(Unauthenticated, match="invalid token"):
        verifier.verify(impostor.mint("SO_Y_TE", ["needs:write"]))


def test_a_token_without_an_agency_claim_is_refused(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    claims = _claims()
    del claims["agency"]
    token = jwt.encode(claims, _private_key(issuer), "ES256")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated, match="agency"):
        verifier.verify(token)


def test_without_configured_issuers_no_token_is_trusted(issuer: DevIssuer) -> None:
    with pytest.raises(Unauthenticated, match="not trusted"):
        TokenVerifier([]).verify(issuer.mint("SO_Y_TE", ["needs:write"]))


def test_a_remembered_token_is_refused_once_it_expires(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    """Verified tokens are remembered (a signature check per request costs ~0.4 ms), never
    past their `exp`."""
    token = issuer.mint("SO_Y_TE", ["needs:write"], ttl=dt.timedelta(seconds=1))
    assert verifier.verify(token).agency == "SO_Y_TE"
    assert verifier.verify(token).agency == "SO_Y_TE"  # remembered
    time.sleep(2.1)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(token)


def test_a_token_refused_once_is_refused_again(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    forged = issuer.mint("SO_Y_TE", ["needs:write"])[:-4] + "AAAA"
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            verifier.verify(forged)


def test_the_dev_private_key_and_secrets_are_owner_only_from_their_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No window in which another user could open them: created 0600, not chmod-ed after."""
    monkeypatch.setattr(Path, "chmod", lambda *_a, **_k: None)  # a late chmod would not count
    old = os.umask(0)
    try:
        issuer = DevIssuer(tmp_path / "keys").ensure()
        issuer.secrets()
        issuer.demo_passwords()
    finally:
        os.umask(old)
    for name in ("private.pem", "secrets.json", "demo-sign-ins.json"):
        assert stat.S_IMODE((issuer.folder / name).stat().st_mode) == 0o600, name


def test_the_dev_issuer_is_trusted_for_every_agency_and_scope_by_its_binding(
    issuer: DevIssuer,
) -> None:
    (trusted,) = load_issuers(issuer.issuers_file)
    assert (trusted.agencies, trusted.scopes) == (("*",), ("*",))


def test_a_token_living_longer_than_the_cap_is_refused(issuer: DevIssuer) -> None:
    strict = TokenVerifier(load_issuers(issuer.issuers_file), max_lifetime=dt.timedelta(hours=1))
    assert strict.verify(issuer.mint("SO_Y_TE", [], ttl=dt.timedelta(minutes=59)))
    with pytest.raises(Unauthenticated, match="longer than 1 hours"):
        strict.verify(issuer.mint("SO_Y_TE", [], ttl=dt.timedelta(hours=2)))
