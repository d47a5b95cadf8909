"""Where each official went after the secondment (issue 13 item 3): the destination unit of
each post arrangement, in its history row and on the secondment's latest.

Revision ID: 0007
Revises: 0006

Arrangements projected before this revision, or by a replica of the earlier release during a
rolling upgrade, read as "destination unknown" until a rebuild projects them again (their
events carry `destination_unit` when it was recorded): rebuild once no replica of the earlier
release runs, and none of its rebuilds is in progress (its fresh tables lack the columns).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rm_secondments", sa.Column("arr_destination", sa.String(64)))
    op.add_column("rm_arrangements", sa.Column("destination_unit", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("rm_arrangements") as batch:
        batch.drop_column("destination_unit")
    with op.batch_alter_table("rm_secondments") as batch:
        batch.drop_column("arr_destination")
