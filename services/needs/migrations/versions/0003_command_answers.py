"""Answers remembered per caller and key (HTTP Idempotency-Key, command ids over Kafka).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from shared.infra.migrations import create_command_answers_v1

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_command_answers_v1()


def downgrade() -> None:
    op.drop_table("command_answers")
