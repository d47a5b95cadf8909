"""Alembic environment of the placement service."""

from services.placement.adapters.tables import metadata
from shared.infra.migrations import run_env

run_env(metadata)
