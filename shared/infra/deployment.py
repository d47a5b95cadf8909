"""A service outside the embedded/dev shape does not start without its secrets.

The settings' defaults suit the embedded/dev shape (`make run`: SQLite files under `var/`, keys
made on the first start). A service on a server database that lacks a secret would start all
the same and fail later, quietly: without the programme key its consumers stall on the first
sealed event, without the master key the placement service refuses every secondment, and
without an audit URL it audits to a SQLite file inside its container. So `python -m
services.<name>` calls `refuse_without_secrets` first and exits with the names of what is
missing (never a value).
"""

from collections.abc import Iterable
from typing import ClassVar, Protocol

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from shared.infra.db import is_sqlite


class ServiceSettings(Protocol):
    """What every service's settings class has (its own database, the audit store, Kafka)."""

    model_config: ClassVar[SettingsConfigDict]
    database_url: str
    audit_database_url: str

    @property
    def kafka_security_protocol(self) -> str: ...

    @property
    def kafka_allow_plaintext(self) -> bool: ...


def missing_secrets(settings: ServiceSettings, secrets: Iterable[str]) -> list[str]:
    """The environment variables a service with these settings lacks; none in the dev shape.

    `secrets` are field names whose value must be set; the audit store must also be given
    (not the SQLite default) once the service's own database is a server.
    """
    if is_sqlite(settings.database_url):
        return []
    missing = [name for name in secrets if not _given(getattr(settings, name))]
    if is_sqlite(settings.audit_database_url):
        missing.append("audit_database_url")
    prefix = str(settings.model_config.get("env_prefix") or "")
    return [f"{prefix}{name}".upper() for name in missing]


def plaintext_kafka(settings: ServiceSettings) -> str | None:
    """Why a service may not talk to Kafka this way, if it may not: outside the embedded/dev
    shape the broker must authenticate it (SASL; SASL_SSL across hosts), unless the
    deployment says this is a development or test broker."""
    if is_sqlite(settings.database_url) or settings.kafka_allow_plaintext:
        return None
    if settings.kafka_security_protocol != "PLAINTEXT":
        return None
    prefix = str(settings.model_config.get("env_prefix") or "").upper()
    return (
        f"{prefix}KAFKA_SECURITY_PROTOCOL is PLAINTEXT: set SASL_SSL (or SASL_PLAINTEXT on one "
        f"trusted host) with {prefix}KAFKA_USERNAME and {prefix}KAFKA_PASSWORD, or "
        f"{prefix}KAFKA_ALLOW_PLAINTEXT=true for a development broker"
    )


def refuse_without_secrets(
    service: str, settings: ServiceSettings, secrets: Iterable[str], *, kafka: bool = True
) -> None:
    """Exit (status 1, a one-line message on stderr) when `missing_secrets` names anything,
    or when Kafka would be unauthenticated outside the dev shape (`plaintext_kafka`; not
    checked without `kafka`, for a step that never connects to it)."""
    missing = missing_secrets(settings, secrets)
    if missing:
        raise SystemExit(
            f"{service}: not starting: {', '.join(missing)} must be set outside the "
            "embedded (SQLite) shape (deploy/README.md, deploy/.env.example)"
        )
    plaintext = plaintext_kafka(settings) if kafka else None
    if plaintext is not None:
        raise SystemExit(f"{service}: not starting: {plaintext} (deploy/README.md)")


def _given(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and value != ""
