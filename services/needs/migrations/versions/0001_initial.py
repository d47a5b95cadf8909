"""Core tables and filled positions.

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
        "need_fills",
        sa.Column("need_id", sa.String(36), primary_key=True),
        sa.Column("secondment_id", sa.String(36), primary_key=True),
        sa.Column("decided_on", sa.Date, nullable=False),
    )


def downgrade() -> None:
    for table in ("need_fills", "processed_events", "outbox", "event_store"):
        op.drop_table(table)
