"""Alembic environment of the reporting service."""

from shared.infra.migrations import run_env

from services.reporting.adapters.tables import metadata

run_env(metadata)
