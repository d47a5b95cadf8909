"""Alembic environment of the audit store (its own database, version table
`alembic_version_audit`)."""

from shared.infra.audit_tables import audit_metadata
from shared.infra.migrations import run_env

run_env(audit_metadata)
