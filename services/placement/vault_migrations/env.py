"""Alembic environment of the placement service's key vault (own version table)."""

from services.placement.adapters.vault import vault_metadata
from shared.infra.migrations import run_env

run_env(vault_metadata)
