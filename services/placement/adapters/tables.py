"""The placement service's database: core tables, its view of needs, and of secondments."""

from sqlalchemy import (
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shared.infra.answers import define_command_answers
from shared.infra.schema import Position, define_core_tables

metadata = MetaData()
core = define_core_tables(metadata, audit_outbox=True)
command_answers = define_command_answers(metadata)
"""Answers to HTTP requests with an `Idempotency-Key` and to commands over Kafka."""

needs_view = Table(
    "needs_view",
    metadata,
    Column("need_id", String(36), primary_key=True),
    Column("host_unit_code", String(64), nullable=False),
    Column("host_unit_name", String(200), nullable=False),
    Column("sector", String(64), nullable=False),
    Column("positions", Integer, nullable=False),
    Column("min_rank", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("taken", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)
"""Needs as consumed from the needs topic; `taken` counts live secondments (ours)."""

secondments_view = Table(
    "secondments_view",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("secondment_id", String(36), nullable=False, unique=True),
    Column("official_id", String(64), nullable=False),
    Column("need_id", String(36), nullable=False, index=True),
    Column("home_unit", String(64), nullable=False, index=True),
    Column("host_unit", String(64), nullable=False, index=True),
    Column("start_date", Date, nullable=False),
    Column("planned_end_date", Date, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Index("ix_secondments_view_official_home_unit", "official_id", "home_unit"),
)
"""Current state of each secondment, written with its events (lists, overlap rule).

The overlap rule reads an official's spells by `official_id` and home units: one index on both
(migration 0006), or SQLite, which keeps no statistics, chose the home unit's index for a single
home unit and read every secondment of that unit, for every secondment decided."""

plans_index = Table(
    "plans_index",
    metadata,
    Column("plan_id", String(36), primary_key=True),
    Column("home_unit", String(64), nullable=False),
    Column("phase_id", String(16), nullable=False),
    UniqueConstraint("home_unit", "phase_id", name="uq_plans_index_home_unit_phase"),
)
"""One locality plan per locality and phase: the unique constraint settles two adoptions
racing (the loser is refused PLAN_ALREADY_ADOPTED)."""
