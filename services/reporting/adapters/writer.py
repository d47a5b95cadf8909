"""Batched, idempotent, order-tolerant upserts into one generation of the read models.

The rows come folded (`adapters/changes.py`: one row per aggregate and table, merged by each
kind's rules, so applying the same event twice, or events in any order, ends in the same rows).
`write` then merges each table's rows with one statement (`adapters/merge_sql.py`): on
PostgreSQL `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE` through asyncpg (one round
trip per table and batch, no per-row SQL), elsewhere (SQLite, the embedded default) an
`executemany` of the same merge.

`write` (the live projection) also appends the batch to the change log (`rm_changes`) as its
last statements: it takes the next revision from `rm_revision`, whose row lock it then holds
until commit, so revisions commit in order and a reader that sees revision R sees every
change up to R.
"""

import json
from typing import Any

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.reporting.adapters.merge_sql import merge_statement, pg_sql
from services.reporting.adapters.tables import ReadModels, rm_changes, rm_revision
from services.reporting.service_layer.changes import TABLES, Changes

PG_CHUNK = 20_000
"""Rows per statement (a rebuild writes hundreds of thousands at once)."""


async def _pg_write(conn: AsyncConnection, models: ReadModels, changes: Changes) -> None:
    # Through SQLAlchemy's connection (its paramstyle for asyncpg is `$n`): statements join
    # its transaction and errors arrive as SQLAlchemy's (which the transport classifies).
    for key, rows in changes.in_order():
        table: Table = getattr(models, key)
        sql, columns = pg_sql(table, TABLES[key])
        # Key order: concurrent transactions lock the rows they share in the same order.
        values = [rows[k] for k in sorted(rows)]
        for start in range(0, len(values), PG_CHUNK):
            chunk = values[start : start + PG_CHUNK]
            await conn.exec_driver_sql(sql, tuple([row[c] for row in chunk] for c in columns))


async def copy_fresh(conn: AsyncConnection, models: ReadModels, changes: Changes) -> None:
    """Load folded rows into tables known to be empty: binary COPY on PostgreSQL (no conflict
    handling needed, the rows are unique per key), `write_on` elsewhere."""
    if conn.dialect.name != "postgresql":
        await write_on(conn, models, changes)
        return
    # The COPY goes to the driver directly: make sure SQLAlchemy's transaction has begun.
    await conn.exec_driver_sql("SELECT 1")
    driver: Any = (await conn.get_raw_connection()).driver_connection
    for key, rows in changes.in_order():
        table: Table = getattr(models, key)
        _, columns = pg_sql(table, TABLES[key])
        await driver.copy_records_to_table(
            table.name,
            columns=columns,
            records=[tuple([row[c] for c in columns]) for row in rows.values()],
        )


async def write(session: AsyncSession, models: ReadModels, changes: Changes) -> None:
    """Apply a batch of folded changes in the session's transaction and log it."""
    conn = await session.connection()
    await write_on(conn, models, changes)
    await log_changes(conn, changes)


CHANGES_KEPT = 2048
"""Revisions kept in `rm_changes`; a reader further behind reloads everything."""


async def log_changes(conn: AsyncConnection, changes: Changes) -> int:
    """Append the batch's touched aggregates to the change log under the next revision; the
    caller commits soon after (the revision row stays locked until then)."""
    if not changes.tables:
        return 0
    revision = (
        await conn.execute(
            update(rm_revision)
            .where(rm_revision.c.id == 1)
            .values(revision=rm_revision.c.revision + 1)
            .returning(rm_revision.c.revision)
        )
    ).scalar_one()
    needs, secondments = changes.touched()
    await conn.execute(
        insert(rm_changes).values(
            revision=revision, need_ids=json.dumps(needs), secondment_ids=json.dumps(secondments)
        )
    )
    if revision % 256 == 0:
        old = rm_changes.c.revision <= revision - CHANGES_KEPT
        await conn.execute(delete(rm_changes).where(old))
    return int(revision)


async def write_on(conn: AsyncConnection, models: ReadModels, changes: Changes) -> None:
    """`write` on a connection (in its transaction)."""
    if conn.dialect.name == "postgresql":
        await _pg_write(conn, models, changes)
        return
    for key, rows in changes.in_order():
        table: Table = getattr(models, key)
        await conn.execute(
            merge_statement(conn.dialect.name, table, TABLES[key]), list(rows.values())
        )
