"""The evaluation's in-memory copy on PostgreSQL: the same checks as on SQLite
(tests/unit/reporting/test_snapshot.py), and batches committing concurrently (as the Kafka
consumer's two batches in flight do) while evaluations refresh the copy."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.reporting.adapters.snapshot import SnapshotCache
from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from services.reporting.service_layer.projections import project_batch
from shared.contract.envelope import CloudEvent
from shared.infra.transport import InProcessBus
from tests.bench.generator import delivery_order, generate
from tests.infra import create_database, drop_database, unique_name
from tests.unit.reporting.test_snapshot import (
    AS_OF,
    _both,
    test_a_gap_in_the_change_log_or_a_new_generation_reloads_everything,
    test_the_copy_in_memory_follows_every_batch,
)

__all__ = [
    "test_a_gap_in_the_change_log_or_a_new_generation_reloads_everything",
    "test_the_copy_in_memory_follows_every_batch",
]


@pytest.fixture
async def service(pg_dsn: str) -> AsyncIterator[ReportingService]:
    name = unique_name("snapshot")
    url = await create_database(pg_dsn, name)
    svc = ReportingService(ReportingSettings(database_url=url), InProcessBus())
    await svc.migrate()
    yield svc
    await svc.stop()
    await drop_database(pg_dsn, name)


async def test_concurrent_batches_and_refreshes_end_equal_to_a_fresh_copy(
    service: ReportingService,
) -> None:
    generated = generate(21, needs=300)
    envelopes = [CloudEvent.from_json(m) for _, _, m in delivery_order(generated, 5)]
    batches = [envelopes[i : i + 60] for i in range(0, len(envelopes), 60)]
    cache = SnapshotCache()
    refreshed: list[str] = []

    async def read_meanwhile(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _both(service, cache, AS_OF[1])
            refreshed.append(cache.last.kind)
            await asyncio.sleep(0.01)

    stop = asyncio.Event()
    reader = asyncio.create_task(read_meanwhile(stop))
    for i in range(0, len(batches), 2):
        pair = batches[i : i + 2]
        await asyncio.gather(*(project_batch(b, service.ports.uow()) for b in pair))
    stop.set()
    await reader
    assert "changes" in refreshed
    for as_of in AS_OF:
        cached, fresh = await _both(service, cache, as_of)
        assert cached == fresh
        assert cached.secondments.started > 0
