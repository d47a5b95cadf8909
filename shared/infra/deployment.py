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
    """What every service's settings class has (its own database, the audit store, a prefix)."""

    model_config: ClassVar[SettingsConfigDict]
    database_url: str
    audit_database_url: str


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


def refuse_without_secrets(service: str, settings: ServiceSettings, secrets: Iterable[str]) -> None:
    """Exit (status 1, a one-line message on stderr) when `missing_secrets` names anything."""
    missing = missing_secrets(settings, secrets)
    if missing:
        raise SystemExit(
            f"{service}: not starting: {', '.join(missing)} must be set outside the "
            "embedded (SQLite) shape (deploy/README.md, deploy/.env.example)"
        )


def _given(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and value != ""
