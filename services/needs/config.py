"""Settings of the needs service, from `NEEDS_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from shared.http.settings import BaseServiceSettings


class NeedsSettings(BaseServiceSettings):
    """Configuration by environment (12-factor); defaults suit the embedded default."""

    model_config = SettingsConfigDict(env_prefix="NEEDS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/needs.db"
    consumer_group: str = "needs"
    http_port: int = 8001
