"""Change log of the read models: lets a reader refresh its in-memory copy incrementally.

`rm_revision` (one row) counts committed projection batches and names the generation of the
read-model tables (a rebuild swaps in a new one); `rm_changes` lists, per revision, the
aggregates the batch touched. See `services/reporting/adapters/snapshot.py`.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("generation", sa.String(36), nullable=False),
    )
    op.execute("INSERT INTO rm_revision (id, revision, generation) VALUES (1, 0, 'initial')")
    op.create_table(
        "rm_changes",
        sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("need_ids", sa.Text, nullable=False),
        sa.Column("secondment_ids", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rm_changes")
    op.drop_table("rm_revision")
