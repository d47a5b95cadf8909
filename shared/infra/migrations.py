"""Alembic glue shared by the services: run migrations on start and the core tables' DDL.

Each service keeps its own `migrations/` folder (own history, own database); these helpers
keep their `env.py` and first revision to a few lines.
"""

import asyncio
import logging
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import AsyncEngine


def _config(script_location: Path, connection: Connection, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = version_table
    return cfg


log = logging.getLogger(__name__)


async def upgrade_to_head(
    engine: AsyncEngine,
    script_location: Path,
    version_table: str = "alembic_version",
    *,
    lock_key: int | None = None,
) -> None:
    """Bring a database to the newest revision of one migration history (idempotent).

    A database may hold several independent histories (the placement service's key vault
    has its own), each with its own version table. With `lock_key`, processes migrating the
    same PostgreSQL database take turns (a transaction-scoped advisory lock): the audit store
    is migrated by whichever service starts first.
    """
    async with engine.begin() as conn:
        if lock_key is not None and conn.dialect.name == "postgresql":
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
        await conn.run_sync(
            lambda c: command.upgrade(_config(script_location, c, version_table), "head")
        )


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's `env.py`: migrate on the connection handed in by the service."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through the service (python -m services.<name> migrate)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table=context.config.attributes.get("version_table", "alembic_version"),
    )
    with context.begin_transaction():
        context.run_migrations()


def position_type() -> sa.types.TypeEngine[int]:
    """The type of an append-order `position` column: BIGINT, INTEGER on SQLite (whose
    autoincrement wants INTEGER PRIMARY KEY)."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def create_core_tables_v1() -> None:
    """DDL of the event store, outbox and processed-event tables as of revision 0001."""
    op.create_table(
        "event_store",
        sa.Column("position", position_type(), primary_key=True, autoincrement=True),
        sa.Column("stream_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("stream_id", "version", name="uq_event_store_stream_version"),
    )
    op.create_table(
        "outbox",
        sa.Column("position", position_type(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "position"])
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def create_command_answers_v1() -> None:
    """DDL of `command_answers` (remembered answers to commands) as of revision 0003."""
    op.create_table(
        "command_answers",
        sa.Column("caller", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_command_answers_expires_at", "command_answers", ["expires_at"])


def create_audit_outbox_v1() -> None:
    """DDL of `audit_outbox` (commands' audit entries on their way to the audit store)."""
    op.create_table(
        "audit_outbox",
        sa.Column("position", position_type(), primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
    )


async def upgrade_when_reachable(
    engine: AsyncEngine,
    script_location: Path,
    version_table: str = "alembic_version",
    *,
    lock_key: int | None = None,
    within: float = 60.0,
    name: str = "",
) -> None:
    """`upgrade_to_head`, waiting up to `within` seconds for a database that cannot be
    reached yet (starting, restarting, failing over): a replica started at that moment comes
    up instead of exiting. Any other error is raised at once."""
    from shared.infra.db import unavailable

    deadline, delay = time.monotonic() + within, 0.5
    while True:
        try:
            await upgrade_to_head(engine, script_location, version_table, lock_key=lock_key)
            return
        except Exception as exc:
            if not unavailable(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("%s: database unavailable (%s); trying again in %.1fs",
                        name or version_table, type(exc).__name__, delay)  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
