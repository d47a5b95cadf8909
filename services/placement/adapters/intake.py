"""The intake key: the X25519 key pair agencies seal officials' identities for (RFC 9180
HPKE, `shared.contract.personal`), so a `SecondOfficial` crosses Kafka, its dead letters and
any proxy without a readable name."""

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.contract.crypto import derive_key, parse_key
from shared.contract.personal import Identity, IntakeSealed, intake_jwk, open_from_intake

DERIVATION_LABEL = "secondment/placement/intake-key/v1"


class IntakeKey:
    """`IdentityIntake` of the placement service."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key

    @classmethod
    def configured(cls, intake_key: str | None, master_key: bytes | None) -> "IntakeKey | None":
        """From `PLACEMENT_INTAKE_KEY` (base64 of 32 bytes), else derived from the master key
        (one secret less to hold; set it apart to rotate it on its own), else none."""
        if intake_key:
            return cls(X25519PrivateKey.from_private_bytes(parse_key(intake_key)))
        if master_key is not None:
            raw = derive_key(master_key, DERIVATION_LABEL)
            return cls(X25519PrivateKey.from_private_bytes(raw))
        return None

    def open(self, official_id: str, sealed: IntakeSealed) -> Identity:
        return open_from_intake(self._private, official_id, sealed)

    def jwk(self) -> dict[str, str]:
        return intake_jwk(self._private.public_key())
