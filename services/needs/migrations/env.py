"""Alembic environment of the needs service."""

from shared.infra.migrations import run_env

from services.needs.adapters.tables import metadata

run_env(metadata)
