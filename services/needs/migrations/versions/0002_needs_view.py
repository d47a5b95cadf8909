"""Needs view for lists.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "needs_view",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("need_id", sa.String(36), nullable=False, unique=True),
        sa.Column("host_unit", sa.String(64), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_needs_view_host_unit", "needs_view", ["host_unit"])
    op.create_index("ix_needs_view_sector", "needs_view", ["sector"])
    op.create_index("ix_needs_view_status", "needs_view", ["status"])


def downgrade() -> None:
    op.drop_table("needs_view")
