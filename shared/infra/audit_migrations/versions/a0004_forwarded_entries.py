"""Entries committed by a service with its command, forwarded under an id of their own.

Revision ID: a0004
Revises: a0003

A command's audit entry is written in the command's transaction into the service's own
`audit_outbox` and forwarded here (`shared.infra.audit_outbox`). A forwarder that stops
between this store's commit and the deletion of its rows sends them again: `entry_id`, unique
here, keeps each once. Entries written straight to the store (refusals, reads) have none.
"""

import sqlalchemy as sa
from alembic import op

revision = "a0004"
down_revision = "a0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("entry_id", sa.String(36), nullable=True))
    op.create_index("ix_audit_log_entry_id", "audit_log", ["entry_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_audit_log_entry_id", "audit_log")
    op.drop_column("audit_log", "entry_id")
