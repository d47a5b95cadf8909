"""Development identities: a local issuer key pair and a token minting command.

`python -m shared.http.tokens --keys var-keys --agency SO_Y_TE --scope needs:write` prints
a token. Production tokens come from the province's identity provider; services only need
its public keys (`*_AUTH_ISSUERS_FILE`).
"""

import argparse
import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.contract.crypto import b64, new_key
from shared.http.auth import DEFAULT_AUDIENCE

DEV_ISSUER = "https://id.dev.secondment.local"

DEMO_IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "host department (Sở Y tế)": ("SO_Y_TE", ("needs:write", "reception:write")),
    "home authority (Huyện Nam Giang)": ("NAM_GIANG", ("secondments:write", "plans:write")),
    "home authority (Huyện Nam Trà My)": ("NAM_TRA_MY", ("secondments:write", "plans:write")),
    "leadership (UBND tỉnh)": ("UBND_TINH", ("reports:read",)),
    "Department of Home Affairs (Sở Nội vụ)": (
        "SO_NOI_VU",
        ("reports:read", "reports:sensitive", "plans:write"),
    ),
    "data-protection officer": ("SO_NOI_VU", ("personal-data:erase", "audit:read")),
}
"""Who `make run` prints a token for."""

DEMO_SIGN_INS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "lanhdao": ("Lãnh đạo UBND tỉnh / leadership", "UBND_TINH", ("reports:read",)),
    "sonoivu": (
        "Sở Nội vụ / Home Affairs",
        "SO_NOI_VU",
        ("reports:read", "reports:sensitive"),
    ),
}
"""Dashboard sign-ins of the embedded default: user name → (label, agency, scopes)."""


@dataclass(frozen=True)
class DevIssuer:
    """A local issuer whose key pair lives in a folder (created on first use)."""

    folder: Path
    issuer: str = DEV_ISSUER

    @property
    def issuers_file(self) -> Path:
        """The file to point `*_AUTH_ISSUERS_FILE` at."""
        return self.folder / "issuers.json"

    def ensure(self) -> "DevIssuer":
        """Create the key pair if missing (the private key 0600 from its first byte), and the
        issuers file that trusts it for every agency and scope (development only)."""
        private = self.folder / "private.pem"
        if not private.exists():
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_private(private, pem)
        loaded = serialization.load_pem_private_key(private.read_bytes(), password=None)
        public = loaded.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        trusted = [
            {
                "issuer": self.issuer,
                "public_keys": [public.decode()],
                "agencies": ["*"],
                "scopes": ["*"],
            }
        ]
        text = json.dumps(trusted, indent=2)
        if not self.issuers_file.exists() or self.issuers_file.read_text() != text:
            self.issuers_file.write_text(text)
        return self

    def demo_passwords(self) -> dict[str, str]:
        """Passwords of the demo sign-ins, generated once and kept with the keys."""
        path = self.folder / "demo-sign-ins.json"
        if not path.exists():
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            made = {u: secrets.token_urlsafe(9) for u in DEMO_SIGN_INS}
            _write_private(path, json.dumps(made).encode())
        passwords: dict[str, str] = json.loads(path.read_text())
        return passwords

    def secrets(self) -> dict[str, str]:
        """The embedded default's master and programme keys, generated once (0600)."""
        path = self.folder / "secrets.json"
        if not path.exists():
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            made = {"master_key": b64(new_key()), "programme_key": b64(new_key())}
            _write_private(path, json.dumps(made).encode())
        keys: dict[str, str] = json.loads(path.read_text())
        return keys

    def mint(
        self,
        agency: str,
        scopes: tuple[str, ...] | list[str],
        *,
        subject: str | None = None,
        ttl: dt.timedelta = dt.timedelta(hours=12),
        audience: str = DEFAULT_AUDIENCE,
    ) -> str:
        """A signed token for an agency with scopes."""
        key = serialization.load_pem_private_key(
            (self.folder / "private.pem").read_bytes(), password=None
        )
        now = dt.datetime.now(dt.UTC)
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "sub": subject or f"user@{agency.lower()}",
            "agency": agency,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(claims, key, algorithm="ES256")  # type: ignore[arg-type]


def _write_private(path: Path, content: bytes) -> None:
    """Write a secret file readable by its owner only from the start (no window in which
    another user could open it, as a chmod after writing would leave)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)


def main() -> None:
    """Mint one development token."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=Path, default=Path("var-keys"))
    parser.add_argument("--agency", required=True, help="unit code, e.g. SO_Y_TE")
    parser.add_argument("--scope", action="append", default=[], help="repeat for each scope")
    parser.add_argument("--hours", type=float, default=12)
    args = parser.parse_args()
    issuer = DevIssuer(args.keys).ensure()
    print(issuer.mint(args.agency, args.scope, ttl=dt.timedelta(hours=args.hours)))


if __name__ == "__main__":
    main()
