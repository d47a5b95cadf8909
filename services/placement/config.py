"""Settings of the placement service, from `PLACEMENT_*` environment variables."""

from pathlib import Path

from pydantic_settings import SettingsConfigDict
from sqlalchemy import make_url

from services.placement.adapters.vault import MasterKeys
from shared.contract.crypto import parse_key
from shared.http.settings import BaseServiceSettings
from shared.infra.personal_data import parse_key_ring


class PlacementSettings(BaseServiceSettings):
    """Configuration by environment; defaults suit the embedded default."""

    model_config = SettingsConfigDict(env_prefix="PLACEMENT_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/placement.db"
    consumer_group: str = "placement"
    http_port: int = 8002
    master_key: str | None = None
    """Wraps the officials' keys (base64 of 32 bytes); from a secret store in production."""
    master_key_id: str = "master-1"
    """The name of `master_key`, stored beside each key it wraps (rotation)."""
    previous_master_keys: str | None = None
    """During a master-key rotation only: `id=base64,id=base64` of retired master keys that
    still unwrap keys `rotate_master_key` has not rewrapped yet."""
    vault_url: str | None = None
    """The key vault's own database (SQLAlchemy async URL), backed up on its own short
    schedule; unset: the service's database (not recommended: its backups then hold keys)."""

    def vault_database_url(self) -> str:
        """`vault_url`; unset, a SQLite file of its own beside a SQLite database (one file
        cannot take the vault's writes and a command's at once), else the service's own."""
        if self.vault_url:
            return self.vault_url
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = Path(str(url.database))
            return str(url.set(database=str(path.with_name(f"{path.stem}-vault{path.suffix}"))))
        return self.database_url

    def master_keys(self) -> "MasterKeys | None":
        """The master keys these settings name; None without a master key."""
        if not self.master_key:
            return None
        current = (self.master_key_id, parse_key(self.master_key))
        keys = parse_key_ring(self.previous_master_keys, "PLACEMENT_PREVIOUS_MASTER_KEYS", current)
        return MasterKeys(self.master_key_id, keys)

    intake_key: str | None = None
    """X25519 private key (base64 of 32 bytes) agencies seal identities for
    (`GET /api/personal-data/intake-key`); unset: derived from the master key."""
