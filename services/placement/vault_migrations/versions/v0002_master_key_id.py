"""Each wrapped key names the master key that wrapped it (master-key rotation).

Revision ID: v0002
Revises: v0001
"""

import sqlalchemy as sa
from alembic import op

revision = "v0002"
down_revision = "v0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "official_keys",
        sa.Column("master_kid", sa.String(64), nullable=False, server_default="master-1"),
    )


def downgrade() -> None:
    op.drop_column("official_keys", "master_kid")
