"""Alembic environment of the reporting service."""

from services.reporting.adapters.tables import metadata
from shared.infra.migrations import run_env

run_env(metadata)
