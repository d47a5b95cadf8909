"""Proves the test infrastructure: aiokafka 0.14 against the real broker, asyncpg/SQLAlchemy
against a real PostgreSQL. Fixtures come from ``tests.infra``."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    TopicPartition,
)
from aiokafka.admin import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaAdminClient,
    NewTopic,
)
from aiokafka.admin.config_resource import (  # type: ignore[import-untyped, unused-ignore]
    ConfigResource,
    ConfigResourceType,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.infra import INFRA_INFO, create_database, drop_database, unique_name, unique_topic

pytestmark = pytest.mark.integration

PARTITIONS = 3
MESSAGES = 30


async def _create_event_topic(bootstrap: str, topic: str) -> dict[str, Any]:
    """Create a 3-partition topic with unlimited retention; return its config as a dict."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resp = await admin.create_topics(
            [NewTopic(topic, PARTITIONS, 1, topic_configs={"retention.ms": "-1"})]
        )
        # aiokafka returns the raw response: errors must be checked here.
        errors = [(t["topic"], t["error_code"]) for t in resp.to_object()["topic_errors"]]
        assert errors == [(topic, 0)], f"create_topics: {resp.to_object()}"
        # A new topic's metadata reaches the broker answering `describe` a moment later
        # (UNKNOWN_TOPIC_OR_PARTITION until then): ask until it knows, for 10 s at most.
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            (described,) = await admin.describe_topics([topic])
            if described["error_code"] == 0 or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert described["error_code"] == 0
        assert len(described["partitions"]) == PARTITIONS
        (cfg_resp,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
        (resource,) = cfg_resp.to_object()["resources"]
        return {c["config_names"]: c["config_value"] for c in resource["config_entries"]}
    finally:
        await admin.close()


def _consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )


async def test_broker_version(
    kafka_bootstrap: str, record_property: Callable[[str, object], None]
) -> None:
    """Records which broker the session runs against (shown in the terminal summary)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        brokers = producer.client.cluster.brokers()
        assert len(brokers) >= 1
    finally:
        await producer.stop()
    info = INFRA_INFO.get("kafka", "unknown")
    record_property("kafka", info)
    print(f"kafka: {info}")


async def test_kafka_idempotent_produce_and_committed_offsets(kafka_bootstrap: str) -> None:
    topic, group = unique_topic("infra"), unique_name("infra_group")
    config = await _create_event_topic(kafka_bootstrap, topic)
    assert config["retention.ms"] == "-1"
    assert config["cleanup.policy"] == "delete"  # no compaction unless a topic asks for it

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topic, f"event-{i}".encode(), key=f"agg-{i % 5}".encode())
            for i in range(MESSAGES)
        ]
    finally:
        await producer.stop()
    assert {md.partition for md in sent} == set(range(PARTITIONS)), "keys spread over partitions"

    # First consumer: read half, commit exactly what it read, leave.
    first = _consumer(kafka_bootstrap, topic, group)
    await first.start()
    seen: list[tuple[int, int, bytes]] = []
    try:
        for _ in range(MESSAGES // 2):
            msg = await asyncio.wait_for(first.getone(), timeout=30)
            seen.append((msg.partition, msg.offset, msg.value))
        await first.commit()
        committed = {tp.partition: await first.committed(tp) for tp in first.assignment()}
    finally:
        await first.stop()
    expected_committed: dict[int, int] = defaultdict(int)
    for partition, offset, _ in seen:
        expected_committed[partition] = max(expected_committed[partition], offset + 1)
    for partition in range(PARTITIONS):
        assert (committed[partition] or 0) == expected_committed[partition]

    # Second consumer, same group: resumes after the committed offsets, nothing re-read.
    second = _consumer(kafka_bootstrap, topic, group)
    await second.start()
    try:
        for partition in range(PARTITIONS):
            tp = TopicPartition(topic, partition)
            assert (await second.committed(tp) or 0) == expected_committed[partition]
        # ListOffsets (the API whose old versions Kafka 4 removed) through the consumer.
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        assert sum((await second.end_offsets(tps)).values()) == MESSAGES
        assert set((await second.beginning_offsets(tps)).values()) == {0}
        while len(seen) < MESSAGES:
            msg = await asyncio.wait_for(second.getone(), timeout=30)
            assert msg.offset >= expected_committed[msg.partition], "re-read a committed message"
            seen.append((msg.partition, msg.offset, msg.value))
        await second.commit()
    finally:
        await second.stop()

    assert sorted(v for _, _, v in seen) == sorted(f"event-{i}".encode() for i in range(MESSAGES))
    assert len({(p, o) for p, o, _ in seen}) == MESSAGES
    # Per-key order: within a key, values come in send order.
    by_key: dict[str, list[int]] = defaultdict(list)
    for _, _, value in sorted(seen, key=lambda s: (s[0], s[1])):
        i = int(value.decode().split("-")[1])
        by_key[f"agg-{i % 5}"].append(i)
    assert all(seq == sorted(seq) for seq in by_key.values())

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        groups = await admin.list_consumer_groups()
        assert group in {g[0] for g in groups}
        offsets = await admin.list_consumer_group_offsets(group)
        assert sum(meta.offset for meta in offsets.values()) == MESSAGES
    finally:
        await admin.close()


async def test_kafka_read_committed_hides_aborted_transactions(kafka_bootstrap: str) -> None:
    topic = unique_topic("infra-tx")
    await _create_event_topic(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=unique_topic("tx")
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-1", partition=0)
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted", partition=0)
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-2", partition=0)
    finally:
        await producer.stop()

    consumer = _consumer(kafka_bootstrap, topic, unique_name("infra_tx_group"))
    await consumer.start()
    try:
        values = [(await asyncio.wait_for(consumer.getone(), timeout=30)).value for _ in range(2)]
    finally:
        await consumer.stop()
    assert values == [b"committed-1", b"committed-2"]


async def test_postgres_create_database_and_query(pg_dsn: str) -> None:
    assert pg_dsn.startswith("postgresql+asyncpg://")
    name = unique_name("infra_db")
    url = await create_database(pg_dsn, name)
    assert url.endswith(f"/{name}")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE events (id bigserial PRIMARY KEY, body jsonb)"))
            await conn.execute(text("""INSERT INTO events (body) VALUES ('{"a": 1}')"""))
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one()
            version = (await conn.execute(text("SHOW server_version"))).scalar_one()
        assert count == 1
        print(f"postgres: server_version {version}")
    finally:
        await engine.dispose()
        await drop_database(pg_dsn, name)
