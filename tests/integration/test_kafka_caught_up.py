"""`caught_up` tells placement whether an unknown need id may still be on its way
(`NEED_NOT_YET_KNOWN`, retry) or is truly unknown (`NEED_UNKNOWN`): it must say "no" while a
group has events left to process. Found by the fault-injection suite: it read the partitions
from a metadata cache that never held the topic and answered "caught up" always."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared.infra.kafka import KafkaTransport
from tests.infra import unique_topic

pytestmark = pytest.mark.integration


async def test_a_group_is_caught_up_only_once_it_committed_every_partition_end(
    kafka_bootstrap: str,
) -> None:
    topic, group = unique_topic("caught-up"), unique_topic("group")
    transport = KafkaTransport(kafka_bootstrap, client_id="caught-up-test")
    transport.declare(topic)
    await transport.start()
    try:
        # A topic created a moment ago may not be in every broker's metadata yet: `caught_up`
        # refuses to guess then (placement treats that as "not yet known") — wait it out.
        for _ in range(50):
            try:
                empty = await transport.caught_up(topic, group)
                break
            except RuntimeError:
                await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"{topic} never showed in the brokers' metadata")
        assert empty  # nothing published: nothing to wait for
        for key in (b"a", b"b", b"c", b"d"):
            await transport.broker.publish(b"{}", topic=topic, key=key)
        assert not await transport.caught_up(topic, group)

        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(3)]
            ends = await consumer.end_offsets(partitions)
            consumer.assign(partitions)
            first, *rest = [tp for tp in partitions if ends[tp] > 0]
            if rest:
                await consumer.commit({tp: OffsetAndMetadata(ends[tp], "") for tp in rest})
            assert not await transport.caught_up(topic, group)  # one partition still behind
            await consumer.commit({first: OffsetAndMetadata(ends[first], "")})
        finally:
            await consumer.stop()
        assert await transport.caught_up(topic, group)
    finally:
        await transport.stop()
