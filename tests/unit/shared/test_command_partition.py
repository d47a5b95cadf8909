"""How the commands consumer hands a partition's fetched records to the processor (without a
broker): runs of records together, the record that ended a run alone, the offset to commit
just past the last record handled, nothing handled past a revoked partition, and a redelivered
fetch that keeps ending runs at once goes one by one."""

from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from shared.infra.commands import Span
from shared.infra.kafka_commands import CommandTopics

TP = TopicPartition("p.secondment.commands.v1.SO_Y_TE", 0)


class Consumer:
    def __init__(self, revoke_after: int | None = None) -> None:
        self.owned = {TP}
        self.revoke_after = revoke_after

    def assignment(self) -> set[TopicPartition]:
        return self.owned


def _records(n: int, first: int = 40) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord(TP.topic, 0, first + i, 0, 0, None, f"r{i}".encode(), None, 0, 2, [])
        for i in range(n)
    ]


class Calls:
    def __init__(self, takes: Sequence[int], consumer: Consumer | None = None) -> None:
        self.takes = list(takes)
        self.log: list[Any] = []
        self.consumer = consumer

    async def batch(self, topic: str, bodies: Sequence[bytes], span: Span) -> int:
        self.log.append(("run", [b.decode() for b in bodies]))
        return self.takes.pop(0)

    async def alone(self, topic: str, body: bytes) -> None:
        self.log.append(("alone", body.decode()))
        if self.consumer and self.consumer.revoke_after == len(self.log):
            self.consumer.owned = set()


async def _partition(calls: Calls, consumer: Consumer, n: int) -> int | None:
    topics = CommandTopics("unused:9092", "test")
    records = _records(n)
    return await topics._partition(consumer, "g", TP, records, calls.alone, calls.batch)


async def test_a_run_then_the_record_that_ended_it_alone_then_the_rest_as_a_run() -> None:
    calls = Calls([2, 2])
    assert await _partition(calls, Consumer(), 5) == 45
    assert calls.log == [
        ("run", ["r0", "r1", "r2", "r3", "r4"]),
        ("alone", "r2"),
        ("run", ["r3", "r4"]),
    ]


async def test_a_fetch_whose_runs_keep_ending_at_once_goes_one_by_one() -> None:
    calls = Calls([0, 0])
    assert await _partition(calls, Consumer(), 5) == 45
    assert calls.log == [
        ("run", ["r0", "r1", "r2", "r3", "r4"]),
        ("alone", "r0"),
        ("run", ["r1", "r2", "r3", "r4"]),
        ("alone", "r1"),
        ("alone", "r2"),
        ("alone", "r3"),
        ("alone", "r4"),
    ]


async def test_nothing_is_handled_or_committed_past_a_revoked_partition() -> None:
    consumer = Consumer(revoke_after=2)
    calls = Calls([1], consumer)
    assert await _partition(calls, consumer, 4) == 42  # r0 in the run, r1 alone; then revoked
    assert calls.log == [("run", ["r0", "r1", "r2", "r3"]), ("alone", "r1")]


async def test_a_partition_revoked_before_anything_commits_nothing() -> None:
    consumer = Consumer()
    consumer.owned = set()
    calls = Calls([])
    assert await _partition(calls, consumer, 3) is None
    assert calls.log == []
