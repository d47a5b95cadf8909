"""Core tables and the first read models.

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
        "rm_needs",
        sa.Column("need_id", sa.String(36), primary_key=True),
        sa.Column("host_unit", sa.String(64), nullable=False),
        sa.Column("host_unit_name", sa.String(200), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("positions", sa.Integer, nullable=False),
        sa.Column("raised_on", sa.Date, nullable=False),
        sa.Column("withdrawn_on", sa.Date, nullable=True),
        sa.Column("filled_on", sa.Date, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_rm_needs_raised_on", "rm_needs", ["raised_on"])
    op.create_table(
        "rm_secondments",
        sa.Column("secondment_id", sa.String(36), primary_key=True),
        sa.Column("need_id", sa.String(36), nullable=False),
        sa.Column("official_id", sa.String(64), nullable=False),
        sa.Column("home_unit", sa.String(64), nullable=False),
        sa.Column("home_unit_name", sa.String(200), nullable=False),
        sa.Column("host_unit", sa.String(64), nullable=False),
        sa.Column("host_unit_name", sa.String(200), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("ethnicity", sa.String(64), nullable=False),
        sa.Column("gender", sa.String(1), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("planned_end_date", sa.Date, nullable=False),
        sa.Column("ended_on", sa.Date, nullable=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.Column("rating", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_rm_secondments_need_id", "rm_secondments", ["need_id"])
    op.create_index("ix_rm_secondments_start_date", "rm_secondments", ["start_date"])


def downgrade() -> None:
    for table in ("rm_secondments", "rm_needs", "processed_events", "outbox", "event_store"):
        op.drop_table(table)
