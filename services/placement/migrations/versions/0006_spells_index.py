"""The official's spells by one index on (official_id, home_unit).

Revision ID: 0006
Revises: 0005

The overlap rule reads an official's secondments by `official_id` and home units. SQLite keeps
no statistics: with one home unit it chose the home unit's index and read every secondment of
that unit for each secondment decided (0.3 ms with 2,500 of them, growing with every one). An
index on both columns is the better one for either database; it replaces the index on
`official_id` alone, of which it is a prefix.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_secondments_view_official_home_unit",
        "secondments_view",
        ["official_id", "home_unit"],
    )
    op.drop_index("ix_secondments_view_official_id", table_name="secondments_view")


def downgrade() -> None:
    op.create_index("ix_secondments_view_official_id", "secondments_view", ["official_id"])
    op.drop_index("ix_secondments_view_official_home_unit", table_name="secondments_view")
