"""The tables every service has: event store, outbox and processed events (inbox)."""

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Position = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class CoreTables:
    """Handles on one service's core tables."""

    events: Table
    outbox: Table
    processed: Table
    audit_outbox: Table | None = None
    """Commands' audit entries on their way to the audit store (`shared.infra.audit_outbox`),
    in the services that take commands."""


def define_core_tables(metadata: MetaData, *, audit_outbox: bool = False) -> CoreTables:
    """Declare the core tables on a service's own metadata (with `audit_outbox` for a
    service that takes commands)."""
    events = Table(
        "event_store",
        metadata,
        Column("position", Position, primary_key=True, autoincrement=True),
        Column("stream_id", String(64), nullable=False),
        Column("version", Integer, nullable=False),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(64), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("stream_id", "version", name="uq_event_store_stream_version"),
    )
    outbox = Table(
        "outbox",
        metadata,
        Column("position", Position, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(64), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text, nullable=True),
        Index("ix_outbox_unpublished", "published_at", "position"),
    )
    processed = Table(
        "processed_events",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("payload_sha256", String(64), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    return CoreTables(
        events=events,
        outbox=outbox,
        processed=processed,
        audit_outbox=define_audit_outbox(metadata) if audit_outbox else None,
    )


def define_audit_outbox(metadata: MetaData) -> Table:
    """A service's audit entries committed with their commands, not yet in the audit store."""
    return Table(
        "audit_outbox",
        metadata,
        Column("position", Position, primary_key=True, autoincrement=True),
        Column("entry_id", String(36), nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("entry", Text, nullable=False),
    )
