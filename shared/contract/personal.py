"""Personal data in events: how an `OfficerSeconded` travels and is stored sealed.

On Kafka and in event stores an `OfficerSeconded` carries the envelope attribute
`personaldata: "sealed-v1"`, and its `official` holds only the pseudonym in clear:

    {"official_id": "…", "identity": Sealed, "profile": Sealed}

`identity` (full name, birth date) is sealed with the official's own key, which an erasure
deletes; `profile` (gender, ethnicity, subgroup, service category, rank, home unit: what the
statistics need) is sealed with the programme key, which survives erasure. Both are
AES-256-GCM with the official id and the part name as authenticated context. Opened, the
data is the `OfficerSeconded` model of docs/contract.md.
"""

import datetime as dt
import json
from typing import Any, Final, Literal

from pydantic import Field

from shared.contract.events import Official
from shared.contract.types import (
    Code,
    FrozenModel,
    Gender,
    OfficialId,
    ServiceCategory,
    Text,
    UnitRef,
)
from shared.crypto import open_sealed, seal

SEALED: Final = "sealed-v1"
"""Value of the envelope attribute `personaldata` on events whose personal data is sealed."""

UNAVAILABLE_NAME: Final = "[đã xóa / erased]"
UNAVAILABLE_BIRTH_DATE: Final = dt.date(1900, 1, 1)
"""What an opened identity holds when its key is gone (erased) or not held by the reader."""


class Sealed(FrozenModel):
    """One sealed part: key id, nonce and ciphertext (base64url)."""

    kid: str = Field(description="`official` (the official's key) or the programme key's id.")
    nonce: str
    ciphertext: str


class SealedOfficial(FrozenModel):
    """The `official` of a sealed `OfficerSeconded`."""

    official_id: OfficialId
    identity: Sealed
    profile: Sealed


class Identity(FrozenModel):
    """Who the official is: erased on request."""

    full_name: Text
    birth_date: dt.date


class Profile(FrozenModel):
    """What statistics need: kept after erasure."""

    gender: Gender
    ethnicity: Code
    ethnic_subgroup: Code | None = None
    service_category: ServiceCategory
    position_rank: Code
    home_unit: UnitRef


IDENTITY_FIELDS: Final = frozenset(Identity.model_fields)
PROFILE_FIELDS: Final = frozenset(Profile.model_fields)


def _context(official_id: str, part: Literal["identity", "profile"]) -> str:
    return f"secondment/official/{official_id}/{part}"


def seal_official(
    official: Official, identity_key: bytes, programme_key_id: str, programme_key: bytes
) -> SealedOfficial:
    """Seal an official's identity and profile."""
    plain = official.model_dump(mode="json")
    oid = official.official_id
    identity = json.dumps({k: plain[k] for k in IDENTITY_FIELDS}).encode()
    profile = json.dumps({k: plain[k] for k in PROFILE_FIELDS}).encode()
    n1, c1 = seal(identity_key, identity, _context(oid, "identity"))
    n2, c2 = seal(programme_key, profile, _context(oid, "profile"))
    return SealedOfficial(
        official_id=oid,
        identity=Sealed(kid="official", nonce=n1, ciphertext=c1),
        profile=Sealed(kid=programme_key_id, nonce=n2, ciphertext=c2),
    )


def open_profile(sealed: SealedOfficial, programme_keys: dict[str, bytes]) -> Profile:
    """The statistical profile; KeyError when the programme key id is unknown."""
    key = programme_keys[sealed.profile.kid]
    raw = open_sealed(
        key,
        sealed.profile.nonce,
        sealed.profile.ciphertext,
        _context(sealed.official_id, "profile"),
    )
    return Profile.model_validate_json(raw)


def open_identity(sealed: SealedOfficial, identity_key: bytes | None) -> Identity | None:
    """The identity, or None when the key is gone (erased) or not held by this reader."""
    if identity_key is None:
        return None
    raw = open_sealed(
        identity_key,
        sealed.identity.nonce,
        sealed.identity.ciphertext,
        _context(sealed.official_id, "identity"),
    )
    return Identity.model_validate_json(raw)


def open_official(
    sealed: SealedOfficial, programme_keys: dict[str, bytes], identity_key: bytes | None
) -> tuple[Official, bool]:
    """The official as in the contract, and whether the identity was available."""
    profile = open_profile(sealed, programme_keys)
    identity = open_identity(sealed, identity_key)
    fields: dict[str, Any] = profile.model_dump() | {"official_id": sealed.official_id}
    if identity is None:
        fields |= {"full_name": UNAVAILABLE_NAME, "birth_date": UNAVAILABLE_BIRTH_DATE}
    else:
        fields |= identity.model_dump()
    return Official.model_validate(fields), identity is not None
