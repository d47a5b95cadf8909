"""The projection folds a batch in memory before one merge per table (`adapters/writer.py`):
folding must end in exactly the rows that applying the events one at a time gives, in any
delivery order, with duplicates, whatever the batch boundaries. Checked on SQLite (the same
merge rules as on PostgreSQL, where the integration tests check them against the oracle)."""

import random
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.reporting.adapters.tables import LIVE, metadata, rm_changes, rm_revision
from services.reporting.adapters.writer import write
from services.reporting.service_layer.changes import Changes
from services.reporting.service_layer.projections import changes_of, parsed
from shared.contract.envelope import CloudEvent
from shared.infra.db import make_sessions
from tests.bench.generator import delivery_order, generate


async def _engine() -> AsyncEngine:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    async with engine.begin() as conn:
        tables = [*LIVE.all(), rm_revision, rm_changes]
        await conn.run_sync(lambda c: metadata.create_all(c, tables=tables))
        await conn.execute(rm_revision.insert().values(id=1, revision=0, generation="test"))
    return engine


async def _apply(batches: list[list[CloudEvent]]) -> dict[str, list[tuple[Any, ...]]]:
    engine = await _engine()
    sessions = make_sessions(engine)
    try:
        for batch in batches:
            async with sessions() as session, session.begin():
                await write(session, LIVE, changes_of(parsed(batch)))
        out = {}
        async with engine.connect() as conn:
            for table in LIVE.all():
                ordered = select(table).order_by(*table.primary_key.columns)
                out[table.name] = [tuple(r) for r in await conn.execute(ordered)]
        return out
    finally:
        await engine.dispose()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_folded_batches_equal_one_event_at_a_time_in_any_order(seed: int) -> None:
    generated = generate(seed, needs=60)
    events = [CloudEvent.from_json(m) for _, _, m in delivery_order(generated, seed)]
    one_by_one = await _apply([[e] for e in events])
    assert sum(len(rows) for rows in one_by_one.values()) > 100
    rng = random.Random(seed)
    shuffled = events[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), 7))
    chunks = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    assert await _apply(chunks) == one_by_one
    assert await _apply([shuffled + events[: len(events) // 3]]) == one_by_one


def test_a_batch_folds_to_one_row_per_aggregate_and_table() -> None:
    generated = generate(7, needs=40)
    events = parsed([CloudEvent.from_json(m) for _, _, m in generated.messages])
    changes = changes_of(events)
    assert isinstance(changes, Changes)
    assert len(changes.tables["needs"]) == generated.needs
    assert len(changes.tables["secondments"]) == generated.secondments
    assert changes.events == len(events)
