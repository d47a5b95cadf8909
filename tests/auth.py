"""Identities for tests: one development issuer per test session, and request headers for
an agency acting in a role."""

import functools
import tempfile
from pathlib import Path

from shared.contract.crypto import b64, new_key
from shared.http.tokens import DevIssuer

HOST_SCOPES = ("needs:write", "reception:write")
HOME_SCOPES = ("secondments:write",)
READER_SCOPES = ("reports:read",)

TEST_KEYS = {"master_key": b64(new_key()), "programme_key": b64(new_key())}
"""Keys of the services under test (one set per test session)."""


@functools.cache
def dev_issuer() -> DevIssuer:
    """The session's issuer; services under test trust its `issuers_file`."""
    return DevIssuer(Path(tempfile.mkdtemp(prefix="secondment-keys-"))).ensure()


def headers(agency: str, *scopes: str, issuer: DevIssuer | None = None) -> dict[str, str]:
    """`Authorization` header of a token for the agency with the scopes."""
    token = (issuer or dev_issuer()).mint(agency, scopes)
    return {"Authorization": f"Bearer {token}"}


def host(agency: str = "SO_Y_TE", issuer: DevIssuer | None = None) -> dict[str, str]:
    """A host department (raises needs, receives officials)."""
    return headers(agency, *HOST_SCOPES, issuer=issuer)


def home(agency: str = "NAM_GIANG", issuer: DevIssuer | None = None) -> dict[str, str]:
    """A home authority (seconds its officials, ends, arranges, cancels)."""
    return headers(agency, *HOME_SCOPES, issuer=issuer)


def reader(issuer: DevIssuer | None = None) -> dict[str, str]:
    """Leadership reading reports."""
    return headers("UBND_TINH", *READER_SCOPES, issuer=issuer)
