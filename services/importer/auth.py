"""Which bearer token each request carries.

The API lets an agency act on its own records only: the host department raises the need and
records the reception; the home authority seconds, ends and arranges the post afterwards.
An import of many agencies' history therefore sends each request with the token of the
agency the row names for that step (`host_unit` or `home_unit`). Look-ups that make a second
run change nothing read needs with a reader's token (scope `reports:read`), falling back to
the host's own, and secondments with the home authority's token (only parties see officials).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

HOST_SCOPES: Final = ("needs:write", "reception:write")
HOME_SCOPES: Final = ("secondments:write",)
READER_SCOPES: Final = ("reports:read",)
READER_AGENCY: Final = "UBND_TINH"
READER_KEY: Final = "*"
"""Key of the tokens file for look-ups (and for any agency the file does not name)."""


class Role(StrEnum):
    """The part an agency plays in a request."""

    HOST = "host"
    HOME = "home"
    READER = "reader"


class MissingToken(Exception):
    """No token for the agency a step acts for: that row is refused, others go on."""


class TokenError(Exception):
    """The tokens given cannot be used at all (unreadable file, missing keys folder)."""


class Tokens(Protocol):
    """Where tokens come from."""

    def token(self, role: Role, agency: str | None) -> str | None:
        """A token acting for `agency` in `role` (None for a reader); None: send none."""


class NoTokens:
    """An API without authentication: no `Authorization` header."""

    def token(self, role: Role, agency: str | None) -> str | None:
        return None


@dataclass(frozen=True)
class StaticTokens:
    """Tokens given by the user: one for everything, or one per unit code (a JSON file
    `{"SO_Y_TE": "eyJ…", "NAM_GIANG": "eyJ…", "*": "<reader token>"}`)."""

    by_agency: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def single(cls, token: str) -> "StaticTokens":
        """One token for every request (an identity that may act for every unit)."""
        return cls({READER_KEY: token})

    @classmethod
    def from_file(cls, path: Path) -> "StaticTokens":
        """Tokens by unit code from a JSON object."""
        try:
            raw: Any = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise TokenError(f"{path}: cannot read the tokens file ({exc})") from exc
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise TokenError(f'{path}: expected a JSON object {{"UNIT_CODE": "token", …}}')
        return cls(dict(raw))

    def token(self, role: Role, agency: str | None) -> str | None:
        if role is Role.READER:
            return self.by_agency.get(READER_KEY)  # None: look up with the party's token
        if agency is not None and agency in self.by_agency:
            return self.by_agency[agency]
        if READER_KEY in self.by_agency:
            return self.by_agency[READER_KEY]
        raise MissingToken(f"no token for {agency} ({role.value} unit) in the tokens given")


class DevTokens:
    """Development tokens minted with a local development issuer's key (the embedded
    default keeps it in `var-keys`): any agency, the scopes its role needs."""

    def __init__(self, keys: Path) -> None:
        from shared.http.tokens import DevIssuer  # development only: needs the private key

        if not (keys / "private.pem").exists():
            raise TokenError(f"{keys}: no development issuer key (private.pem) here")
        self._issuer = DevIssuer(keys)
        self._cache: dict[tuple[Role, str | None], str] = {}

    def token(self, role: Role, agency: str | None) -> str | None:
        key = (role, agency)
        if key not in self._cache:
            scopes = {Role.HOST: HOST_SCOPES, Role.HOME: HOME_SCOPES}.get(role, READER_SCOPES)
            who = agency if role is not Role.READER and agency else READER_AGENCY
            self._cache[key] = self._issuer.mint(who, scopes, subject=f"importer@{who.lower()}")
        return self._cache[key]
