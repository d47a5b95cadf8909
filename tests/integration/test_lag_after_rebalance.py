"""A replica's consumer-lag gauges follow its partitions: when a second replica joins and the
group rebalances, the partitions taken away stop being reported by the first. Before, the
single-event consumers kept the lag a partition had when it moved, for the process's life:
with two replicas, a lag alert that never cleared."""

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from shared.contract.commands import commands_topic
from shared.contract.envelope import CloudEvent
from shared.infra.kafka import KafkaTransport
from shared.infra.kafka_commands import CommandTopics
from shared.infra.kafka_topics import ensure_topics
from tests.infra import unique_topic
from tests.integration.system import eventually

pytestmark = pytest.mark.integration


def _reported(group: str, topic: str) -> dict[str, float]:
    """Partition → lag this process reports for the group on the topic."""
    return {
        s.labels["partition"]: s.value
        for family in REGISTRY.collect()
        if family.name == "secondment_consumer_lag"
        for s in family.samples
        if s.labels.get("group") == group and s.labels.get("topic") == topic
    }


async def test_partitions_moved_to_another_replica_stop_reporting_lag(
    kafka_bootstrap: str,
) -> None:
    topic, group = unique_topic("lag"), unique_topic("group")
    seen: list[CloudEvent] = []

    async def handler(envelope: CloudEvent) -> None:
        seen.append(envelope)

    first = KafkaTransport(kafka_bootstrap, client_id="lag-first")
    first.subscribe(topic, group, handler)
    await first.start()
    second: KafkaTransport | None = None
    try:
        for key in (b"a", b"b", b"c", b"d", b"e", b"f"):  # not an envelope: dead-lettered
            await first.broker.publish(b"{}", topic=topic, key=key)
        reported = await eventually(
            lambda: asyncio.sleep(0.2, _reported(group, topic)), lambda r: len(r) >= 2
        )
        assert set(reported.values()) == {0.0}

        second = KafkaTransport(kafka_bootstrap, client_id="lag-second")
        second.subscribe(topic, group, handler)
        await second.start()
        # The group rebalances; no record arrives after it, so nobody measures again: each
        # partition's gauge is gone from the member it was taken from.
        await eventually(
            lambda: asyncio.sleep(0.2, _reported(group, topic)), lambda r: r == {}, within=60
        )
        assert seen == []  # every record was dead-lettered, none handled
    finally:
        if second is not None:
            await second.stop()
        await first.stop()


async def test_agency_command_partitions_moved_to_another_replica_stop_reporting_lag(
    kafka_bootstrap: str,
) -> None:
    """The same for the consumer of the agencies' commands topics (pattern subscription,
    offsets committed per fetch)."""
    prefix = f"{unique_topic('lagcmd')}."
    topic = commands_topic("SO_Y_TE", prefix)
    group = unique_topic("group")
    handled: list[bytes] = []

    async def handler(_topic: str, body: bytes) -> None:
        handled.append(body)

    await ensure_topics(kafka_bootstrap, [topic])
    first = CommandTopics(kafka_bootstrap, "lag-first", prefix=prefix, refresh_ms=500)
    first.subscribe(group, handler)
    await first.start()
    second: CommandTopics | None = None
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key in (b"a", b"b", b"c", b"d", b"e", b"f"):
            await producer.send_and_wait(topic, b"{}", key=key)
        reported = await eventually(
            lambda: asyncio.sleep(0.2, _reported(group, topic)), lambda r: len(r) >= 2
        )
        assert set(reported.values()) == {0.0}
        assert len(handled) == 6

        second = CommandTopics(kafka_bootstrap, "lag-second", prefix=prefix, refresh_ms=500)
        second.subscribe(group, handler)
        await second.start()
        await eventually(
            lambda: asyncio.sleep(0.2, _reported(group, topic)), lambda r: r == {}, within=60
        )
        assert len(handled) == 6  # committed per fetch: nothing handled twice
    finally:
        await producer.stop()
        if second is not None:
            await second.stop()
        await first.stop()
