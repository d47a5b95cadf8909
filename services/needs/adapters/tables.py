"""The needs service's database: core tables plus the positions taken per need."""

from sqlalchemy import Column, Date, MetaData, String, Table, Text

from shared.infra.answers import define_command_answers
from shared.infra.schema import Position, define_core_tables

metadata = MetaData()
core = define_core_tables(metadata, audit_outbox=True)
command_answers = define_command_answers(metadata)
"""Answers to HTTP requests with an `Idempotency-Key` and to commands over Kafka."""

need_fills = Table(
    "need_fills",
    metadata,
    Column("need_id", String(36), primary_key=True),
    Column("secondment_id", String(36), primary_key=True),
    Column("decided_on", Date, nullable=False),
)
"""One row per secondment consumed from the placements topic, to count filled positions."""

needs_view = Table(
    "needs_view",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("need_id", String(36), nullable=False, unique=True),
    Column("host_unit", String(64), nullable=False, index=True),
    Column("sector", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("body", Text, nullable=False),
)
"""Current state of each need as the API shows it, written with its events (lists)."""
