"""Personal data in events: how an `OfficerSeconded` travels and is stored sealed.

On Kafka and in event stores an `OfficerSeconded` carries the envelope attribute
`personaldata: "sealed-v1"`, and its `official` holds only the pseudonym in clear:

    {"official_id": "…", "identity": Sealed, "profile": Sealed}

`identity` (full name, birth date) is sealed with the official's own key, which an erasure
deletes; `profile` (gender, ethnicity, subgroup, service category, rank, home unit: what the
statistics need) is sealed with the programme key, which survives erasure. Both are
AES-256-GCM with the official id and the part name as authenticated context. Opened, the
data is the `OfficerSeconded` model of docs/contract.md.

Free text that can say anything about an official (`FREE_TEXT`: the host's remarks, the
supervisor, the assigned role, a cancellation's reason) travels sealed with the official's own
key too, so an erasure leaves no name in a remark behind: the event carries
`personaldata: "sealed-v1"` and, instead of those fields, `sealed_text`:

    {"official_id": "…", "fields": ["remarks"], "kid": "official", "nonce": "…", "ciphertext": "…"}

with the event id in the authenticated context (a sealed text cannot be moved to another
event). Opened without the key (erased, or a reader that never holds it), each listed field
reads `UNAVAILABLE_TEXT`.
"""

import datetime as dt
import hashlib
import json
from typing import Any, Final, Literal

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import Field

from shared.contract.crypto import b64, open_sealed, seal, unb64
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

SEALED: Final = "sealed-v1"
"""Value of the envelope attribute `personaldata` on events whose personal data is sealed."""

UNAVAILABLE_NAME: Final = "[đã xóa / erased]"
UNAVAILABLE_BIRTH_DATE: Final = dt.date(1900, 1, 1)
"""What an opened identity holds when its key is gone (erased) or not held by the reader."""

UNAVAILABLE_TEXT: Final = UNAVAILABLE_NAME
"""What a sealed free text reads when its key is gone (erased) or not held by the reader."""

FREE_TEXT: Final[dict[str, tuple[str, ...]]] = {
    "OfficialReceived": ("assigned_role", "supervisor"),
    "SecondmentEnded": ("remarks",),
    "SecondmentCancelled": ("reason",),
}
"""The fields of each event type that are free text about an official: sealed with the
official's key. (A decision's `signed_by` names the signing authority acting in office, not the
official, and stays in clear.)"""

SEALED_TEXT: Final = "sealed_text"
"""The `data` member that carries an event's sealed free text."""


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


class SealedText(FrozenModel):
    """The free text of one event, sealed with the official's key."""

    official_id: OfficialId
    fields: tuple[str, ...] = Field(description="The `data` members sealed here.")
    kid: Literal["official"] = "official"
    nonce: str
    ciphertext: str


IDENTITY_FIELDS: Final = frozenset(Identity.model_fields)
PROFILE_FIELDS: Final = frozenset(Profile.model_fields)


def _context(official_id: str, part: Literal["identity", "profile"]) -> str:
    return f"secondment/official/{official_id}/{part}"


def _text_context(official_id: str, event_id: str) -> str:
    return f"secondment/official/{official_id}/text/{event_id}"


def seal_text(
    official_id: str, event_id: str, values: dict[str, str], identity_key: bytes
) -> SealedText:
    """Seal an event's free-text `values` with the official's key, bound to the event."""
    nonce, ciphertext = seal(
        identity_key, json.dumps(values).encode(), _text_context(official_id, event_id)
    )
    return SealedText(
        official_id=official_id, fields=tuple(values), nonce=nonce, ciphertext=ciphertext
    )


def open_text(sealed: SealedText, event_id: str, identity_key: bytes | None) -> dict[str, str]:
    """The free-text values; `UNAVAILABLE_TEXT` for each when the key is gone or not held."""
    if identity_key is None:
        return dict.fromkeys(sealed.fields, UNAVAILABLE_TEXT)
    raw = open_sealed(
        identity_key, sealed.nonce, sealed.ciphertext, _text_context(sealed.official_id, event_id)
    )
    values: dict[str, str] = json.loads(raw)
    return values


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


def _open_part(sealed: SealedOfficial, part: Literal["identity", "profile"], key: bytes) -> bytes:
    """The plain bytes of one sealed part of the official, bound to its id and part."""
    box = sealed.identity if part == "identity" else sealed.profile
    return open_sealed(key, box.nonce, box.ciphertext, _context(sealed.official_id, part))


def open_profile(sealed: SealedOfficial, programme_keys: dict[str, bytes]) -> Profile:
    """The statistical profile; KeyError when the programme key id is unknown."""
    key = programme_keys[sealed.profile.kid]
    return Profile.model_validate_json(_open_part(sealed, "profile", key))


def open_identity(sealed: SealedOfficial, identity_key: bytes | None) -> Identity | None:
    """The identity, or None when the key is gone (erased) or not held by this reader."""
    if identity_key is None:
        return None
    return Identity.model_validate_json(_open_part(sealed, "identity", identity_key))


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


# Identities sealed by the sender (an agency's `SecondOfficial` over Kafka or HTTP) ----------

INTAKE_SUITE: Final = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
INTAKE_ALG: Final = "HPKE-Base-X25519-SHA256-AES256GCM"
"""RFC 9180 HPKE, base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM."""


class IntakeSealed(FrozenModel):
    """An official's identity sealed by the sender for the placement service's intake key.

    `ciphertext` is base64url of HPKE's `enc || ct` (RFC 9180, single shot) over the JSON
    `{"full_name": …, "birth_date": "YYYY-MM-DD"}`, with
    `secondment/intake/official/<official_id>/identity` as HPKE `info`: the identity opens
    only for the official id it was sealed for, and nothing but the placement service can
    read it, on the commands topic, its dead letters or in a log."""

    kid: str = Field(description="The intake key's id (`GET /api/personal-data/intake-key`).")
    ciphertext: str = Field(min_length=40, max_length=4096)


def _intake_info(official_id: str) -> bytes:
    return f"secondment/intake/official/{official_id}/identity".encode()


def intake_key_id(public_key: X25519PublicKey) -> str:
    """A key id that names the key itself: base64url of its SHA-256, first 16 characters."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return b64(hashlib.sha256(raw).digest())[:16]


def intake_jwk(public_key: X25519PublicKey) -> dict[str, str]:
    """The intake key as a JSON Web Key (RFC 8037), as agencies fetch it."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        "kty": "OKP",
        "crv": "X25519",
        "x": b64(raw),
        "kid": intake_key_id(public_key),
        "use": "enc",
        "alg": INTAKE_ALG,
    }


def seal_for_intake(
    jwk: dict[str, str], official_id: str, full_name: str, birth_date: dt.date
) -> IntakeSealed:
    """What an agency does before sending: seal the identity for the published key."""
    public_key = X25519PublicKey.from_public_bytes(unb64(jwk["x"]))
    plain = json.dumps({"full_name": full_name, "birth_date": birth_date.isoformat()})
    ciphertext = INTAKE_SUITE.encrypt(plain.encode(), public_key, info=_intake_info(official_id))
    return IntakeSealed(kid=jwk["kid"], ciphertext=b64(ciphertext))


def open_from_intake(
    private_key: X25519PrivateKey, official_id: str, sealed: IntakeSealed
) -> Identity:
    """The identity an agency sealed; raises ValueError (without the content) when it was
    sealed for another key or another official, or altered."""
    expected = intake_key_id(private_key.public_key())
    if sealed.kid != expected:
        raise ValueError(f"sealed for intake key {sealed.kid!r}; the current key is {expected!r}")
    try:
        raw = INTAKE_SUITE.decrypt(
            unb64(sealed.ciphertext), private_key, info=_intake_info(official_id)
        )
    except Exception as exc:  # InvalidTag, a malformed encapsulated key, bad base64
        raise ValueError(
            f"the identity does not open for official {official_id} with intake key {expected}"
        ) from exc
    return Identity.model_validate_json(raw)
