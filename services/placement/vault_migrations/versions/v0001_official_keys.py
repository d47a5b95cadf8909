"""Officials' data keys, wrapped by the master key.

Revision ID: v0001
"""

import sqlalchemy as sa
from alembic import op

revision = "v0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "official_keys",
        sa.Column("official_id", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(32), nullable=False),
        sa.Column("wrapped_key", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("official_keys")
