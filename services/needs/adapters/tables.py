"""The needs service's database: core tables plus the positions taken per need."""

from sqlalchemy import Column, Date, MetaData, String, Table

from shared.infra.schema import define_core_tables

metadata = MetaData()
core = define_core_tables(metadata)

need_fills = Table(
    "need_fills",
    metadata,
    Column("need_id", String(36), primary_key=True),
    Column("secondment_id", String(36), primary_key=True),
    Column("decided_on", Date, nullable=False),
)
"""One row per secondment consumed from the placements topic, to count filled positions."""
