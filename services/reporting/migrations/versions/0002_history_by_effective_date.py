"""Read models for every lifecycle event: history by effective date, order-tolerant rows.

Base columns become nullable (a later event may land before the one that creates the row);
new columns hold the latest amendment, fill, extension and post arrangement; history tables
keep every one of them for `as_of` questions. Rows projected before this revision lack the
events 0001 ignored: run `python -m services.reporting rebuild` once after upgrading.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEED_BASE = ("host_unit", "host_unit_name", "sector", "positions", "raised_on", "version")
SECONDMENT_BASE = (
    "need_id",
    "official_id",
    "home_unit",
    "home_unit_name",
    "host_unit",
    "host_unit_name",
    "sector",
    "ethnicity",
    "gender",
    "start_date",
    "planned_end_date",
    "version",
)


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean, nullable=False, server_default=sa.false())


def upgrade() -> None:
    with op.batch_alter_table("rm_needs") as b:
        for name in NEED_BASE:
            b.alter_column(name, nullable=True)
        b.add_column(sa.Column("fill_version", sa.Integer, nullable=True))
        b.add_column(_flag("reopened"))
        b.add_column(sa.Column("am_version", sa.Integer, nullable=True))
        b.add_column(sa.Column("amended_on", sa.Date, nullable=True))
        b.add_column(sa.Column("am_host_unit", sa.String(64), nullable=True))
        b.add_column(sa.Column("am_host_unit_name", sa.String(200), nullable=True))
        b.add_column(sa.Column("am_sector", sa.String(64), nullable=True))
        b.add_column(sa.Column("am_positions", sa.Integer, nullable=True))
        b.add_column(sa.Column("am_raised_on", sa.Date, nullable=True))
        b.add_column(_flag("am_multi"))
    with op.batch_alter_table("rm_secondments") as b:
        for name in SECONDMENT_BASE:
            b.alter_column(name, nullable=True)
        b.add_column(sa.Column("received_on", sa.Date, nullable=True))
        b.add_column(sa.Column("cancelled_on", sa.Date, nullable=True))
        b.add_column(sa.Column("ext_version", sa.Integer, nullable=True))
        b.add_column(sa.Column("ext_decided_on", sa.Date, nullable=True))
        b.add_column(sa.Column("ext_planned_end", sa.Date, nullable=True))
        b.add_column(_flag("ext_multi"))
        b.add_column(sa.Column("arr_version", sa.Integer, nullable=True))
        b.add_column(sa.Column("arrangement", sa.String(32), nullable=True))
        b.add_column(sa.Column("new_position_rank", sa.String(64), nullable=True))
        b.add_column(sa.Column("arr_effective", sa.Date, nullable=True))
        b.add_column(_flag("arr_multi"))
    # Rows of 0001 recorded filled_on without its version: treat it as the only fill.
    op.execute("UPDATE rm_needs SET fill_version = version WHERE filled_on IS NOT NULL")
    op.create_table(
        "rm_need_amendments",
        sa.Column("need_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("amended_on", sa.Date, nullable=False),
        sa.Column("host_unit", sa.String(64), nullable=True),
        sa.Column("host_unit_name", sa.String(200), nullable=True),
        sa.Column("sector", sa.String(64), nullable=True),
        sa.Column("positions", sa.Integer, nullable=True),
        sa.Column("raised_on", sa.Date, nullable=True),
    )
    op.create_table(
        "rm_need_fills",
        sa.Column("need_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
    )
    op.create_table(
        "rm_extensions",
        sa.Column("secondment_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("decided_on", sa.Date, nullable=False),
        sa.Column("new_planned_end_date", sa.Date, nullable=False),
    )
    op.create_table(
        "rm_arrangements",
        sa.Column("secondment_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("arrangement", sa.String(32), nullable=False),
        sa.Column("new_position_rank", sa.String(64), nullable=True),
        sa.Column("effective_date", sa.Date, nullable=False),
    )


def downgrade() -> None:
    for table in ("rm_arrangements", "rm_extensions", "rm_need_fills", "rm_need_amendments"):
        op.drop_table(table)
    with op.batch_alter_table("rm_secondments") as b:
        for name in (
            "received_on",
            "cancelled_on",
            "ext_version",
            "ext_decided_on",
            "ext_planned_end",
            "ext_multi",
            "arr_version",
            "arrangement",
            "new_position_rank",
            "arr_effective",
            "arr_multi",
        ):
            b.drop_column(name)
    with op.batch_alter_table("rm_needs") as b:
        for name in (
            "fill_version",
            "reopened",
            "am_version",
            "amended_on",
            "am_host_unit",
            "am_host_unit_name",
            "am_sector",
            "am_positions",
            "am_raised_on",
            "am_multi",
        ):
            b.drop_column(name)
