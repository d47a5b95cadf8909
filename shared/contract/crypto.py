"""Authenticated encryption for personal data (AES-256-GCM), and key wrapping.

Envelope encryption: each official's data key is random, stored only wrapped by the master
key (from configuration); deleting the wrapped key makes everything sealed with it
unreadable for good (crypto-shredding). The programme key, also from configuration, seals
the statistical profile, which must survive an erasure.
"""

import base64
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32


def new_key() -> bytes:
    """A fresh 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def b64(raw: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    """Inverse of `b64`."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_key(text: str) -> bytes:
    """A key from configuration (base64, 32 bytes), with a clear error otherwise."""
    raw = unb64(text.strip())
    if len(raw) != KEY_BYTES:
        raise ValueError(f"a key must be {KEY_BYTES} bytes of base64, got {len(raw)}")
    return raw


def seal(key: bytes, plaintext: bytes, context: str) -> tuple[str, str]:
    """(nonce, ciphertext), both base64; `context` is authenticated, not encrypted."""
    nonce = os.urandom(12)
    return b64(nonce), b64(AESGCM(key).encrypt(nonce, plaintext, context.encode()))


def open_sealed(key: bytes, nonce: str, ciphertext: str, context: str) -> bytes:
    """The plaintext; raises `cryptography.exceptions.InvalidTag` if anything was altered."""
    return AESGCM(key).decrypt(unb64(nonce), unb64(ciphertext), context.encode())


def derive_key(secret: bytes, label: str) -> bytes:
    """A 256-bit key for one purpose (`label`) derived from a secret (HKDF-SHA256): lets one
    configured secret stand for several keys without them ever being equal."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label.encode()).derive(
        secret
    )
