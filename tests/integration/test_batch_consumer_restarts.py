"""A batch consumer whose loop fails on an unexpected error leaves the group and joins again
after a backoff: the events after the failure are consumed, none is lost, and `/readyz` says
ready again. Before, the failed loop's consumer kept heart-beating and kept its partitions:
nothing consumed them until someone restarted the process."""

import asyncio
import json
import uuid
from collections.abc import Sequence
from typing import TypeVar

import pytest
from aiokafka import AIOKafkaProducer

from shared.contract.envelope import CloudEvent
from shared.infra.kafka_batches import BatchingKafkaTransport
from tests.infra import unique_topic
from tests.integration.system import eventually

pytestmark = pytest.mark.integration

T = TypeVar("T")


def _event(n: int) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/services/test",
            "type": "Ping",
            "subject": f"s-{n}",
            "time": "2024-08-20T00:00:00Z",
            "aggregateversion": 1,
            "correlationid": "c",
            "causationid": "c",
            "actor": "test",
            "data": {"n": n},
        }
    ).encode()


async def test_a_failed_loop_joins_again_and_consumes_what_came_after(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic, group = unique_topic("restart"), unique_topic("group")
    seen: set[int] = set()

    async def handle(envelopes: Sequence[CloudEvent]) -> None:
        seen.update(int(e.data["n"]) for e in envelopes)

    transport = BatchingKafkaTransport(kafka_bootstrap, "restart-test", in_flight=1)
    transport.subscribe_batch(topic, group, handle, max_records=5)
    failures = [RuntimeError("the loop breaks once")]
    observe = transport._observe_lag

    def breaking(*args: object) -> None:
        if len(seen) >= 5 and failures:  # after some batches were applied
            raise failures.pop()
        observe(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(transport, "_observe_lag", breaking)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await transport.start()
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(topic, _event(n))
        await eventually(lambda: _now(not failures), bool)
        for n in range(10, 20):
            await producer.send_and_wait(topic, _event(n))
        await eventually(lambda: _now(set(seen)), lambda s: s == set(range(20)))
        assert transport.restarts == 1
        assert await eventually(transport.consuming, bool)
    finally:
        await producer.stop()
        await transport.stop()
        await asyncio.sleep(0)


async def _now(value: T) -> T:
    return value
