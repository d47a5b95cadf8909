"""The settings every service's settings class repeats, in one base class.

Each service subclasses `BaseServiceSettings`, sets its `env_prefix` (`NEEDS_`, …) and gives the
three defaults that differ by service (its SQLite file, consumer group and port); the
environment variables stay `<PREFIX><FIELD>` as before.
"""

from pydantic_settings import SettingsConfigDict

from shared.http.auth import AuthSettings
from shared.http.limits import HttpLimitSettings
from shared.infra.audit import AuditSettings
from shared.infra.kafka_auth import KafkaSecuritySettings
from shared.infra.personal_data import PersonalDataKeys


class BaseServiceSettings(
    AuthSettings, AuditSettings, HttpLimitSettings, KafkaSecuritySettings, PersonalDataKeys
):
    """Configuration by environment (12-factor); defaults suit the embedded default.

    A subclass gives `database_url`, `consumer_group` and `http_port` their defaults."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str
    """The service's own database (SQLAlchemy async URL)."""
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    consumer_group: str
    http_host: str = "0.0.0.0"
    http_port: int

    @property
    def group(self) -> str:
        """The service's consumer group with the deployment's topic prefix."""
        return f"{self.topic_prefix}{self.consumer_group}"
