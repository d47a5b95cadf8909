"""Secondments view with a list position and the API body.

Revision ID: 0002
Revises: 0001

Recreates the view (nothing had been released on 0001; the view is rebuilt from events by
re-running the commands, not migrated).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("secondments_view")
    op.create_table(
        "secondments_view",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("secondment_id", sa.String(36), nullable=False, unique=True),
        sa.Column("official_id", sa.String(64), nullable=False),
        sa.Column("need_id", sa.String(36), nullable=False),
        sa.Column("home_unit", sa.String(64), nullable=False),
        sa.Column("host_unit", sa.String(64), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("planned_end_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    for column in ("official_id", "need_id", "home_unit", "host_unit", "status"):
        op.create_index(f"ix_secondments_view_{column}", "secondments_view", [column])


def downgrade() -> None:
    op.drop_table("secondments_view")
