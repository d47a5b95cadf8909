"""The audit store's tables (its own metadata: the store is its own database, migrated by
`audit_migrations/`). Append-only: the migrations' triggers raise on UPDATE, DELETE
(and, on PostgreSQL, TRUNCATE)."""

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table

from shared.infra.schema import Position

audit_metadata = MetaData()

audit_log = Table(
    "audit_log",
    audit_metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("agency", String(64), nullable=True),
    Column("subject", String(200), nullable=True),
    Column("action", String(100), nullable=False),
    Column("category", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer, nullable=True),
    Column("rule", String(64), nullable=True),
    Column("route", String(200), nullable=True),
    Column("count", Integer, nullable=False, server_default="1"),
    # Set when a service committed the entry with its command (`audit_outbox`): forwarded
    # twice, kept once.
    Column("entry_id", String(36), nullable=True),
    Index("ix_audit_log_entry_id", "entry_id", unique=True),
    Index("ix_audit_log_agency", "agency", "position"),
    Index("ix_audit_log_action", "action", "position"),
    Index("ix_audit_log_occurred_at", "occurred_at"),
)

audit_records = Table(
    "audit_records",
    audit_metadata,
    Column("position", Position, ForeignKey("audit_log.position"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("record_id", String(100), primary_key=True),
    Index("ix_audit_records_record_id", "record_id"),
)
