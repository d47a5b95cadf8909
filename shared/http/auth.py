"""Identities over HTTP: bearer JWTs verified against configured issuer keys.

Only asymmetric algorithms are accepted (never `none`, never a shared secret a service
could leak); issuer, audience and expiry are required and checked. The claims `agency` (a
unit code) and `scope` (space-separated) become the request's `Principal` — only within
what the issuer is trusted for (`agencies`, `scopes` in the issuers file), and only for a
token whose lifetime is within the cap (`*_AUTH_MAX_TOKEN_HOURS`).

The dashboard's sign-in cookie is a bearer too, but only for reading the dashboard and the
exports (`session_principal`): every other route takes the `Authorization` header alone, so
a page of another site cannot make a signed-in browser change anything.
"""

import datetime as dt
import fnmatch
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, Request
from pydantic import Field
from pydantic_settings import BaseSettings

from shared.authz import Principal
from shared.contract.rules import RuleCode
from shared.seedwork.errors import DomainError

ALGORITHMS = ("RS256", "ES256", "EdDSA")
DEFAULT_AUDIENCE = "secondment-api"
VERIFIED_TOKENS = 10_000
"""Most verified tokens a verifier remembers (the oldest are forgotten first)."""
DEFAULT_MAX_TOKEN_HOURS = 12.0
SESSION_COOKIE = "__Host-session"
"""The dashboard's sign-in cookie: `__Host-` binds it to this host, path `/`, Secure."""
CLOCK_SKEW = dt.timedelta(minutes=1)


class Unauthenticated(DomainError):
    """No valid token: HTTP 401 with a `WWW-Authenticate` challenge."""

    def __init__(self, detail: str) -> None:
        super().__init__(RuleCode.UNAUTHENTICATED, detail)


@dataclass(frozen=True)
class Issuer:
    """A trusted token issuer, its public keys (PEM), and what it may assert: the agencies
    (unit codes; `*` patterns, e.g. `SO_*`, or `*` for all) and the scopes."""

    issuer: str
    public_keys: tuple[str, ...]
    agencies: tuple[str, ...]
    scopes: tuple[str, ...]

    def may_assert(self, agency: str, scopes: frozenset[str]) -> str | None:
        """None when the claims are within this issuer's trust, else why not."""
        if not any(fnmatch.fnmatchcase(agency, p) for p in self.agencies):
            return f"issuer {self.issuer!r} may not assert agency {agency!r}"
        beyond = sorted(
            s for s in scopes if not any(fnmatch.fnmatchcase(s, p) for p in self.scopes)
        )
        if beyond:
            return f"issuer {self.issuer!r} may not assert scope {' '.join(beyond)!r}"
        return None


def load_issuers(path: Path) -> list[Issuer]:
    """Issuers from a JSON file:
    `[{"issuer": "...", "public_keys": ["-----BEGIN ..."], "agencies": ["SO_*"],
    "scopes": ["needs:write"]}]`. `agencies` and `scopes` are required: an issuer trusted
    for everything must say `["*"]`, never by omission."""
    raw: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    issuers = []
    for i in raw:
        missing = [k for k in ("issuer", "public_keys", "agencies", "scopes") if k not in i]
        if missing:
            raise ValueError(
                f"{path}: issuer {i.get('issuer')!r} lacks {', '.join(missing)} "
                '(bind each issuer to what it may assert; ["*"] for anything)'
            )
        issuers.append(
            Issuer(i["issuer"], tuple(i["public_keys"]), tuple(i["agencies"]), tuple(i["scopes"]))
        )
    return issuers


class TokenVerifier:
    """Verifies bearer tokens; built once at start-up from configuration.

    A signature check costs about 0.4 ms of CPU (ES256), and a client sends the same token
    with every request: a token verified once is remembered, by its SHA-256, with its
    principal, until its `exp` (never longer; a refused token is not remembered). The keys and
    the audience are fixed for the verifier's life, so the same token always gets the same
    answer until it expires.
    """

    def __init__(
        self,
        issuers: Sequence[Issuer],
        audience: str = DEFAULT_AUDIENCE,
        max_lifetime: dt.timedelta = dt.timedelta(hours=DEFAULT_MAX_TOKEN_HOURS),
    ) -> None:
        self._keys: Mapping[str, list[Any]] = {
            i.issuer: [load_pem_public_key(k.encode()) for k in i.public_keys] for i in issuers
        }
        self._issuers = {i.issuer: i for i in issuers}
        self._audience = audience
        self._max_lifetime = max_lifetime
        self._verified: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; Unauthenticated otherwise (says why)."""
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None:
            principal, expires = known
            if time.time() < expires:
                return principal
            del self._verified[digest]
        principal, expires = self._verify(token)
        self._verified[digest] = (principal, expires)
        if len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"malformed token: {exc}") from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated(f"algorithm {header.get('alg')!r} is not accepted")
        issuer = unverified.get("iss")
        keys = self._keys.get(issuer) if isinstance(issuer, str) else None
        if not keys:
            raise Unauthenticated(f"issuer {issuer!r} is not trusted")
        last: Exception | None = None
        for key in keys:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=list(ALGORITHMS),
                    audience=self._audience,
                    issuer=issuer,
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
                break
            except jwt.InvalidSignatureError as exc:
                last = exc
            except jwt.PyJWTError as exc:
                raise Unauthenticated(f"invalid token: {exc}") from exc
        else:
            raise Unauthenticated(f"invalid token: {last}")
        self._check_lifetime(claims)
        agency = claims.get("agency")
        if not isinstance(agency, str) or not agency:
            raise Unauthenticated("the token has no `agency` claim")
        scopes = frozenset(str(claims.get("scope", "")).split())
        refusal = self._issuers[str(issuer)].may_assert(agency, scopes)
        if refusal is not None:
            raise Unauthenticated(refusal)
        principal = Principal(
            agency=agency, scopes=scopes, subject=str(claims["sub"]), issuer=str(issuer)
        )
        return principal, float(claims["exp"])

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        """A stolen long-lived token is a long-lived key: none lives past the cap."""
        expires = dt.datetime.fromtimestamp(float(claims["exp"]), dt.UTC)
        issued = claims.get("iat")
        start = (
            dt.datetime.fromtimestamp(float(issued), dt.UTC)
            if isinstance(issued, int | float)
            else dt.datetime.now(dt.UTC)
        )
        if expires - start > self._max_lifetime + CLOCK_SKEW:
            hours = self._max_lifetime.total_seconds() / 3600
            raise Unauthenticated(f"the token lives longer than {hours:g} hours")


SAFE_METHODS = frozenset({"GET", "HEAD"})


def bearer_token(request: Request, *, session: bool = False) -> str:
    """The token of the `Authorization: Bearer …` header; with `session`, on a read (GET,
    HEAD), the dashboard's sign-in cookie too."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    if session and cookie and request.method in SAFE_METHODS:
        return cookie
    raise Unauthenticated("missing bearer token (Authorization: Bearer <JWT>)")


def current_principal(request: Request) -> Principal:
    """The verified caller of this request (bearer header only)."""
    verifier: TokenVerifier = request.app.state.verifier
    principal = verifier.verify(bearer_token(request))
    request.state.principal = principal
    return principal


async def principal_dependency(request: Request) -> Principal:
    """FastAPI dependency: `current_principal`, on the event loop (a plain `def` dependency
    would be sent to a worker thread and back for every request)."""
    return current_principal(request)


class SessionRevocations(Protocol):
    """Sessions signed out before their token expired."""

    async def is_revoked(self, token: str) -> bool: ...


async def session_principal(
    request: Request, revoked: SessionRevocations | None = None
) -> Principal:
    """The caller of a dashboard or export read: the bearer header, or on a GET/HEAD the
    sign-in cookie of a session not signed out."""
    token = bearer_token(request, session=True)
    verifier: TokenVerifier = request.app.state.verifier
    principal = verifier.verify(token)
    if revoked is not None and await revoked.is_revoked(token):
        raise Unauthenticated("the session was signed out")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(principal_dependency)]
"""Declare this parameter on a route to require a valid token."""


class AuthSettings(BaseSettings):
    """Token verification settings; every service's settings class inherits them."""

    auth_issuers_file: Path | None = None
    """JSON list of trusted issuers and their public keys; unset means every call is 401."""

    auth_audience: str = DEFAULT_AUDIENCE
    auth_max_token_hours: float = Field(default=DEFAULT_MAX_TOKEN_HOURS, gt=0, le=24 * 7)
    """Tokens living longer (`exp` − `iat`) are refused, whoever signed them."""

    def verifier(self) -> TokenVerifier:
        """The verifier these settings describe."""
        issuers = load_issuers(self.auth_issuers_file) if self.auth_issuers_file else []
        return TokenVerifier(
            issuers, self.auth_audience, dt.timedelta(hours=self.auth_max_token_hours)
        )
