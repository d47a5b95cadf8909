"""Alembic environment of the placement service."""

from shared.infra.migrations import run_env

from services.placement.adapters.tables import metadata

run_env(metadata)
