"""A rebuild while events keep arriving ends with tables equal to the live ones.

Deployment A runs the reporting service and is rebuilt (fresh tables from offset 0, swapped
in) while a producer keeps publishing; deployment B is a control: the same service on its own
database and consumer group, never rebuilt. When both have consumed everything, every
read-model table of A equals B's, row for row.
"""

import asyncio
import json
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.__main__ import create_app as create_reporting_app
from services.reporting.adapters.rebuild import KafkaSource, SqlFreshReadModels
from services.reporting.adapters.tables import LIVE, core
from services.reporting.config import ReportingSettings
from services.reporting.service_layer.rebuild import rebuild
from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC, topic_name
from shared.infra.db import make_engine
from shared.infra.kafka_topics import ensure_topics
from tests.bench.generator import delivery_order, generate
from tests.infra import create_database, unique_name
from tests.integration.system import eventually, new_deployment, running

pytestmark = pytest.mark.integration


async def _processed(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        t = core.processed
        return int(await conn.scalar(select(func.count()).select_from(t)) or 0)


async def _dump(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with engine.connect() as conn:
        for table in LIVE.all():
            keys = [c for c in table.primary_key.columns]
            rows = await conn.execute(select(table).order_by(*keys))
            out[table.name] = [tuple(r) for r in rows]
    return out


async def test_a_rebuild_during_live_traffic_ends_with_tables_equal_to_the_live_ones(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    control_db = await create_database(pg_dsn, unique_name("control"))
    topics = [topic_name(t, d.prefix) for t in (NEEDS_TOPIC, PLACEMENTS_TOPIC)]
    await ensure_topics(kafka_bootstrap, topics)
    messages = delivery_order(generate(99, needs=900), 5)
    distinct = len({json.loads(m)["id"] for _, _, m in messages})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()

    async def publish(batch: list[tuple[str, str, bytes]], pause: float = 0.0) -> None:
        for i in range(0, len(batch), 100):
            futures = [
                await producer.send(topic_name(t, d.prefix), value=m, key=k.encode())
                for t, k, m in batch[i : i + 100]
            ]
            await asyncio.gather(*futures)
            await asyncio.sleep(pause)

    live = make_engine(d.reporting_db)
    control = make_engine(control_db)
    control_settings = ReportingSettings(
        database_url=control_db,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=d.prefix,
        consumer_group="control",
        audit_database_url=d.audit_db,
    )
    half = len(messages) // 2
    try:
        async with (
            running(create_reporting_app(d.reporting_settings())),
            running(create_reporting_app(control_settings)),
        ):
            await publish(messages[:half])
            traffic = asyncio.create_task(publish(messages[half:], pause=0.05))
            await asyncio.sleep(0.3)
            source = KafkaSource(kafka_bootstrap, topics, batch=500)
            try:
                report = await rebuild(SqlFreshReadModels(live), source)
            finally:
                await source.close()
            assert not traffic.done(), "the rebuild must overlap live traffic"
            await traffic
            await eventually(lambda: _processed(live), lambda n: n == distinct, within=60)
            await eventually(lambda: _processed(control), lambda n: n == distinct, within=60)
        assert report.events >= half
        rebuilt, reference = await _dump(live), await _dump(control)
        assert sum(len(r) for r in reference.values()) > 1000
        for name, rows in reference.items():
            assert rebuilt[name] == rows, name
        async with live.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert not [n for n in names if n.endswith(("__next", "__old"))]
    finally:
        await producer.stop()
        await live.dispose()
        await control.dispose()
