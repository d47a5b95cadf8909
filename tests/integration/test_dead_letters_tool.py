"""The operator's dead-letter tool on the real broker: list, replay and discard what a DLQ
holds, with a dry run that changes nothing, each record handled once."""

import asyncio
import json
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.infra.dead_letters import DeadLetterSettings, handle, main
from tests.infra import unique_topic

pytestmark = pytest.mark.integration


async def _topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 1, 1) for n in names])
    finally:
        await admin.close()


async def _dead_letter(bootstrap: str, dlq: str, source: str, body: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            dlq,
            body,
            key=b"k",
            headers=[
                ("x-dlq-reason", b"invalid envelope"),
                ("x-dlq-group", b"reporting"),
                ("x-dlq-topic", source.encode()),
            ],
        )
    finally:
        await producer.stop()


async def _values(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[bytes] = []
        while await consumer.position(tp) < end:
            for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                values.append(record.value or b"")
        return values
    finally:
        await consumer.stop()


async def test_list_replay_and_discard_each_record_once(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, prefix = unique_topic("source"), f"t{uuid4().hex[:8]}."
    dlq = f"{source}.dlq"
    await _topics(kafka_bootstrap, source, dlq)
    event = json.dumps({"id": str(uuid4()), "type": "NeedRaised", "data": {}}).encode()
    await _dead_letter(kafka_bootstrap, dlq, source, event)
    await _dead_letter(kafka_bootstrap, dlq, source, b"\x00garbage")
    settings = DeadLetterSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix)

    listed = await handle(settings, dlq, "list")
    assert [(d.event_type, d.source_topic, d.group) for d in listed] == [
        ("NeedRaised", source, "reporting"),
        (None, source, "reporting"),
    ]
    assert await handle(settings, dlq, "replay", dry_run=True) == listed
    assert await _values(kafka_bootstrap, source) == []  # the dry run published nothing
    assert len(await handle(settings, dlq, "list")) == 2  # …and handled nothing

    replayed = await handle(settings, dlq, "replay")
    assert len(replayed) == 2
    assert await _values(kafka_bootstrap, source) == [event, b"\x00garbage"]  # bytes unchanged
    assert await handle(settings, dlq, "list") == []
    assert await handle(settings, dlq, "replay") == []  # never twice

    await _dead_letter(kafka_bootstrap, dlq, source, b"another")
    assert len(await handle(settings, dlq, "discard")) == 1
    assert await handle(settings, dlq, "list") == []
    assert len(await _values(kafka_bootstrap, source)) == 2  # discarded, not republished
    assert len(await _values(kafka_bootstrap, dlq)) == 3  # the DLQ keeps its records

    # The command line says the same, without the bodies.
    monkeypatch.setenv("DLQ_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("DLQ_TOPIC_PREFIX", f"{prefix}cli.")
    assert await asyncio.to_thread(main, ["list", "--topic", dlq]) == 0
    out = capsys.readouterr()
    assert "NeedRaised" in out.out
    assert "not an envelope" in out.out
    assert "garbage" not in out.out
    assert "another" not in out.out
    assert "3 record(s) pending" in out.err
