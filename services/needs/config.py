"""Settings of the needs service, from `NEEDS_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from shared.http.auth import AuthSettings
from shared.http.limits import HttpLimitSettings
from shared.infra.audit import AuditSettings
from shared.infra.kafka_auth import KafkaSecuritySettings
from shared.infra.personal_data import PersonalDataKeys


class NeedsSettings(
    AuthSettings, AuditSettings, HttpLimitSettings, KafkaSecuritySettings, PersonalDataKeys
):
    """Configuration by environment (12-factor); defaults suit the embedded default."""

    model_config = SettingsConfigDict(env_prefix="NEEDS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/needs.db"
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    consumer_group: str = "needs"
    http_host: str = "0.0.0.0"
    http_port: int = 8001
