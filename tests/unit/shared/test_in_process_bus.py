"""The embedded default's bus: a batch subscriber gets the relay's batch in one call, in
order; a batch it cannot take is handed over again one event at a time, so that the events
before a poison one are taken and the poison one fails the publication (the relay retries)."""

from collections.abc import Sequence

import pytest

from shared.contract.envelope import CloudEvent
from shared.infra.outbox import OutgoingMessage
from shared.infra.transport import InProcessBus
from tests.unit.shared.test_envelope import envelope

TOPIC = "needs"


def _messages(events: Sequence[CloudEvent]) -> list[OutgoingMessage]:
    return [OutgoingMessage(TOPIC, e.subject, e.to_json()) for e in events]


async def test_a_batch_subscriber_gets_the_batch_in_one_call_in_order() -> None:
    bus = InProcessBus()
    calls: list[list[int]] = []

    async def handler(batch: Sequence[CloudEvent]) -> None:
        calls.append([e.aggregateversion for e in batch])

    bus.subscribe_batch(TOPIC, "reporting", handler)
    await bus.publish(_messages([envelope(v) for v in (1, 2, 3)]))

    assert calls == [[1, 2, 3]]


async def test_a_poison_event_fails_the_publication_after_the_events_before_it() -> None:
    bus = InProcessBus()
    taken: list[int] = []

    async def handler(batch: Sequence[CloudEvent]) -> None:
        if any(e.aggregateversion == 2 for e in batch):
            raise ValueError("poison")
        taken.extend(e.aggregateversion for e in batch)

    bus.subscribe_batch(TOPIC, "reporting", handler)
    with pytest.raises(ValueError, match="poison"):
        await bus.publish(_messages([envelope(v) for v in (1, 2, 3)]))

    assert taken == [1]
