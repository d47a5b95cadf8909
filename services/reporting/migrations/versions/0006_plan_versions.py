"""The locality secondment plans' decisions (issue 13 item 2).

Revision ID: 0006
Revises: 0005

Plans adopted before this revision are projected by a rebuild (their events are on the
placements topic from the start).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_plan_versions",
        sa.Column("plan_id", sa.String(36)),
        sa.Column("version", sa.Integer),
        sa.Column("home_unit", sa.String(64)),
        sa.Column("phase_id", sa.String(16)),
        sa.Column("decided_on", sa.Date, nullable=False),
        sa.Column("decision_no", sa.String(64), nullable=False),
        sa.Column("targets", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("rm_plan_versions")
