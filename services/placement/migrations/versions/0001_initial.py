"""Core tables, needs view and secondments view.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.infra.migrations import create_core_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_core_tables_v1()
    op.create_table(
        "needs_view",
        sa.Column("need_id", sa.String(36), primary_key=True),
        sa.Column("host_unit_code", sa.String(64), nullable=False),
        sa.Column("host_unit_name", sa.String(200), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("positions", sa.Integer, nullable=False),
        sa.Column("min_rank", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("taken", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "secondments_view",
        sa.Column("secondment_id", sa.String(36), primary_key=True),
        sa.Column("official_id", sa.String(64), nullable=False),
        sa.Column("need_id", sa.String(36), nullable=False),
        sa.Column("home_unit", sa.String(64), nullable=False),
        sa.Column("host_unit", sa.String(64), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("planned_end_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_secondments_view_official_id", "secondments_view", ["official_id"])
    op.create_index("ix_secondments_view_need_id", "secondments_view", ["need_id"])


def downgrade() -> None:
    for table in ("secondments_view", "needs_view", "processed_events", "outbox", "event_store"):
        op.drop_table(table)
