"""Settings of the placement service, from `PLACEMENT_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from shared.http.auth import AuthSettings
from shared.http.limits import HttpLimitSettings
from shared.infra.audit import AuditSettings
from shared.infra.kafka_auth import KafkaSecuritySettings
from shared.infra.personal_data import PersonalDataKeys


class PlacementSettings(
    AuthSettings, AuditSettings, HttpLimitSettings, KafkaSecuritySettings, PersonalDataKeys
):
    """Configuration by environment; defaults suit the embedded default."""

    model_config = SettingsConfigDict(env_prefix="PLACEMENT_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/placement.db"
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    consumer_group: str = "placement"
    http_host: str = "0.0.0.0"
    http_port: int = 8002
    master_key: str | None = None
    """Wraps the officials' keys (base64 of 32 bytes); from a secret store in production."""
    intake_key: str | None = None
    """X25519 private key (base64 of 32 bytes) agencies seal identities for
    (`GET /api/personal-data/intake-key`); unset: derived from the master key."""
