"""The locality plans' index: one plan per locality and phase.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans_index",
        sa.Column("plan_id", sa.String(36), primary_key=True),
        sa.Column("home_unit", sa.String(64), nullable=False),
        sa.Column("phase_id", sa.String(16), nullable=False),
        sa.UniqueConstraint("home_unit", "phase_id", name="uq_plans_index_home_unit_phase"),
    )


def downgrade() -> None:
    op.drop_table("plans_index")
