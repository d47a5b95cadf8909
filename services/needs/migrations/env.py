"""Alembic environment of the needs service."""

from services.needs.adapters.tables import metadata
from shared.infra.migrations import run_env

run_env(metadata)
