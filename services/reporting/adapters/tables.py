"""Read models of the reporting service, projected from both topics.

Rows keep business dates (raised, started, ended, cancelled …) rather than statuses, so an
evaluation can answer "as at the end of `as_of`" for any date.
"""

from sqlalchemy import Column, Date, Integer, MetaData, String, Table

from shared.infra.schema import define_core_tables

metadata = MetaData()
core = define_core_tables(metadata)

rm_needs = Table(
    "rm_needs",
    metadata,
    Column("need_id", String(36), primary_key=True),
    Column("host_unit", String(64), nullable=False),
    Column("host_unit_name", String(200), nullable=False),
    Column("sector", String(64), nullable=False),
    Column("positions", Integer, nullable=False),
    Column("raised_on", Date, nullable=False, index=True),
    Column("withdrawn_on", Date, nullable=True),
    Column("filled_on", Date, nullable=True),
    Column("version", Integer, nullable=False),
)

rm_secondments = Table(
    "rm_secondments",
    metadata,
    Column("secondment_id", String(36), primary_key=True),
    Column("need_id", String(36), nullable=False, index=True),
    Column("official_id", String(64), nullable=False),
    Column("home_unit", String(64), nullable=False),
    Column("home_unit_name", String(200), nullable=False),
    Column("host_unit", String(64), nullable=False),
    Column("host_unit_name", String(200), nullable=False),
    Column("sector", String(64), nullable=False),
    Column("ethnicity", String(64), nullable=False),
    Column("gender", String(1), nullable=False),
    Column("start_date", Date, nullable=False, index=True),
    Column("planned_end_date", Date, nullable=False),
    Column("ended_on", Date, nullable=True),
    Column("end_reason", String(32), nullable=True),
    Column("rating", String(32), nullable=True),
    Column("version", Integer, nullable=False),
)
