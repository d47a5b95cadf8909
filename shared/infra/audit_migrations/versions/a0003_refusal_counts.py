"""How many identical unauthenticated refusals an entry stands for.

Revision ID: a0003
Revises: a0002

Anonymous refusals (a 401 with no token, a probe of unknown paths) cost an attacker nothing:
one row each would let anyone fill the audit store. They are counted instead: one entry at
the first of a kind within a minute, and one more with `count` for the rest (see
`AuditLog.record_unauthenticated`). Every other entry stands for one event (`count` 1).
"""

import sqlalchemy as sa
from alembic import op

revision = "a0003"
down_revision = "a0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("count", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    op.drop_column("audit_log", "count")
