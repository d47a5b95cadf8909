"""An event or a command that fails validation is dead-lettered and logged with where and
why it failed, never with what it held: pydantic's errors carry the failing input (for a
missing field, the whole object, an official's name included), and its text repeats it.
(Issue 15, item 4: before, the DLQ header and the log line held the name.)"""

import asyncio
import json
import logging
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared.contract.envelope import CloudEvent, read_event
from shared.contract.topics import PLACEMENT_SOURCE
from shared.infra.kafka import KafkaTransport
from tests.infra import unique_topic
from tests.integration.system import eventually, read_topic
from tests.samples import official_body

pytestmark = pytest.mark.integration

NAME = "Zơrâm Thị Bí Mật"
BIRTH = "1979-11-23"


def _official() -> dict[str, Any]:
    """As an event carries it: the home unit with its name."""
    home = {"code": "NAM_GIANG", "name": "Huyện Nam Giang"}
    return official_body(
        official_id="OFF-SECRET-1", full_name=NAME, birth_date=BIRTH, home_unit=home
    )


def _seconded(**envelope: Any) -> bytes:
    sid = str(uuid.uuid4())
    body = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": PLACEMENT_SOURCE,
        "type": "OfficerSeconded",
        "subject": sid,
        "time": "2024-08-20T00:00:00Z",
        "aggregateversion": 1,
        "correlationid": "c",
        "causationid": "c",
        "actor": "test",
        # No `sector`, no `decision`: the whole object is the error's input.
        "data": {"secondment_id": sid, "need_id": str(uuid.uuid4()), "official": _official()},
    } | envelope
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


async def test_invalid_events_reach_the_dlq_and_the_log_without_the_officials_data(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the services log at INFO (aiokafka DEBUG prints records)
    topic, group = unique_topic("pd-errors"), unique_topic("group")

    async def project(envelope: CloudEvent) -> None:
        read_event(envelope)  # what every consumer does first

    transport = KafkaTransport(kafka_bootstrap, client_id="pd-errors")
    transport.subscribe(topic, group, project)
    await transport.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, _seconded(id=None))  # the envelope is invalid
        await producer.send_and_wait(topic, _seconded())  # the event's data is invalid
        parked = await eventually(
            lambda: read_topic(kafka_bootstrap, f"{topic}.dlq"), lambda rs: len(rs) == 2
        )
    finally:
        await producer.stop()
        await transport.stop()
        await asyncio.sleep(0)

    reasons = [dict(r.headers)["x-dlq-reason"].decode() for r in parked]
    assert any("id: missing" in r for r in reasons), reasons
    assert any("sector: missing" in r for r in reasons), reasons
    for text in [*reasons, *(str(h) for r in parked for h in r.headers), caplog.text]:
        assert NAME not in text
        assert BIRTH not in text
    assert "dead-lettering" in caplog.text  # the log says what happened, without the data
