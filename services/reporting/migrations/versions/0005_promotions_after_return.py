"""Promotions after the return (`OfficialPromotedAfterReturn`, issue 13): one history row per
event, like the post arrangements; events projected before this revision had none.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_promotions",
        sa.Column("secondment_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("new_position_rank", sa.String(64), nullable=False),
        sa.Column("promoted_on", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("secondment_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("rm_promotions")
