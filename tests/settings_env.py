"""The services' settings classes as a deployment file sees them: the environment variables
each reads, and what a given environment makes of them.

Shared by tests/unit/test_compose.py (docker-compose.yml) and tests/unit/test_k8s.py
(deploy/k8s/), so that both deployments are held to the same settings the same way.
"""

from collections.abc import Mapping
from typing import Any

from pydantic_settings import BaseSettings

from services.needs.config import NeedsSettings
from services.placement.config import PlacementSettings
from services.reporting.config import ReportingSettings

SETTINGS: dict[str, type[BaseSettings]] = {
    "needs": NeedsSettings,
    "placement": PlacementSettings,
    "reporting": ReportingSettings,
}
SERVICES = sorted(SETTINGS)


def env_prefix(settings: type[BaseSettings]) -> str:
    """The class's `env_prefix` (`NEEDS_`, …); every service's class has one."""
    prefix = settings.model_config.get("env_prefix")
    assert prefix, f"{settings.__name__} has no env_prefix"
    return prefix


def known_variables(name: str) -> set[str]:
    """Every environment variable the settings class of service `name` reads."""
    settings = SETTINGS[name]
    prefix = env_prefix(settings)
    return {prefix + field.upper() for field in settings.model_fields}


def settings_from_environment(name: str, environment: Mapping[str, str]) -> dict[str, Any]:
    """The values of `settings_model(name, environment)`."""
    return settings_model(name, environment).model_dump()


def settings_model(name: str, environment: Mapping[str, str]) -> BaseSettings:
    """The settings service `name` would get from `environment` over the class defaults.

    Every field is passed explicitly, so variables exported in the shell running the tests
    (which pydantic-settings would read) cannot change the outcome.
    """
    settings = SETTINGS[name]
    prefix = env_prefix(settings)
    values: dict[str, Any] = {
        field: info.default
        for field, info in settings.model_fields.items()
        if not info.is_required()
    }
    values.update(
        (key[len(prefix) :].lower(), value)
        for key, value in environment.items()
        if key.startswith(prefix)
    )
    return settings.model_validate(values)
