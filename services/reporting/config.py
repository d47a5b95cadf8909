"""Settings of the reporting service, from `REPORTING_*` environment variables."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportingSettings(BaseSettings):
    """Configuration by environment; defaults suit the embedded default."""

    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/reporting.db"
    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    consumer_group: str = "reporting"
    http_host: str = "0.0.0.0"
    http_port: int = 8003
