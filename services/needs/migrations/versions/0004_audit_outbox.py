"""Commands' audit entries, committed with the command and forwarded to the audit store.

Revision ID: 0004
Revises: 0003

See `shared.infra.audit_outbox`: a command and its audit entry commit together.
"""

from alembic import op

from shared.infra.migrations import create_audit_outbox_v1

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_outbox_v1()


def downgrade() -> None:
    op.drop_table("audit_outbox")
