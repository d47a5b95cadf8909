"""How events move between services: the interface, and the in-process bus of the
embedded default (Kafka's adapter is in `shared.infra.kafka`)."""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from shared.contract.envelope import CloudEvent
from shared.infra import tracing
from shared.infra.metrics import observe_lag
from shared.infra.outbox import OutgoingMessage, Publisher

log = logging.getLogger(__name__)

EnvelopeHandler = Callable[[CloudEvent], Awaitable[None]]
"""A consumer: processes one event idempotently and returns after its transaction commits."""


BatchHandler = Callable[[Sequence[CloudEvent]], Awaitable[None]]
"""A batch consumer: processes events (in partition order) idempotently in one transaction and
returns after it commits; raises for a batch it cannot take, which is then retried one event
at a time so that only a poison event is dead-lettered."""


@runtime_checkable
class SupportsBatchSubscribe(Protocol):
    """A transport that can also hand a consumer its events in batches (for throughput)."""

    def subscribe_batch(
        self, topic: str, group: str, handler: BatchHandler, *, max_records: int = 5000
    ) -> None:
        """Deliver `topic`'s events to `handler` in batches, at least once, in partition
        order, acknowledging a batch only after the handler returned."""


class Transport(Protocol):
    """Publishing (for the outbox relay) and subscribing (for consumers)."""

    def publisher(self) -> Publisher:
        """The publisher the outbox relay uses."""

    def subscribe(self, topic: str, group: str, handler: EnvelopeHandler) -> None:
        """Deliver every event of `topic` to `handler`, at least once, in partition order."""

    async def caught_up(self, topic: str, group: str) -> bool:
        """True when `group` has processed every event published to `topic` so far."""

    async def consuming(self) -> bool:
        """Its consumers are still at work (a readiness check: one that stopped on an error
        takes nothing more until the process is replaced)."""

    async def start(self) -> None:
        """Connect; subscriptions must be registered before."""

    async def stop(self) -> None:
        """Disconnect without acknowledging anything in flight."""


CONSUMER_BATCH = 500
"""Events per transaction for the needs and placement services' consumers: large enough that
a backlog costs a transaction per few hundred events, small enough that the rows a batch locks
(a need's position count) are not held from commands for long. Reporting's projections, which
lock nothing a command waits for, take 5,000."""


def subscribe_events(
    transport: Transport,
    topic: str,
    group: str,
    on_event: EnvelopeHandler,
    on_batch: BatchHandler,
    *,
    max_records: int | None = None,
) -> None:
    """Consume `topic` in batches (`on_batch`, of at most `max_records` when given, else the
    transport's default) where the transport can, one event at a time (`on_event`) where it
    cannot."""
    if not isinstance(transport, SupportsBatchSubscribe):
        transport.subscribe(topic, group, on_event)
    elif max_records is None:
        transport.subscribe_batch(topic, group, on_batch)
    else:
        transport.subscribe_batch(topic, group, on_batch, max_records=max_records)


class InProcessBus:
    """The embedded default's bus: publishing calls each subscriber and returns after all
    committed, so the outbox marks a row only once every consumer has it.

    A batch subscriber (`subscribe_batch`) gets the relay's batch of its topic in one call (one
    transaction instead of one per event: with commands arriving faster than the consumers'
    transactions, the relay's batches grow and the consumers keep up). A batch it raises for
    is handed to it again one event at a time, so the failure names the event (and the relay
    retries from there, as for a single subscriber).
    """

    def __init__(self) -> None:
        self._subscribers: dict[str, list[tuple[str, EnvelopeHandler]]] = defaultdict(list)
        self._batch_subscribers: dict[str, list[tuple[str, BatchHandler, int]]] = defaultdict(list)
        self._sources: dict[str, Callable[[], Awaitable[int]]] = {}

    def register_source(self, topic: str, pending: Callable[[], Awaitable[int]]) -> None:
        """Tell the bus how many events of `topic` are still waiting in their outbox."""
        self._sources[topic] = pending

    async def caught_up(self, topic: str, group: str) -> bool:
        """Every subscriber has an event once its outbox row is marked published."""
        pending = self._sources.get(topic)
        return pending is None or await pending() == 0

    async def consuming(self) -> bool:
        """The relay calls the subscribers: nothing of its own can stop."""
        return True

    def publisher(self) -> Publisher:
        return self

    def subscribe(self, topic: str, group: str, handler: EnvelopeHandler) -> None:
        self._subscribers[topic].append((group, handler))

    def subscribe_batch(
        self, topic: str, group: str, handler: BatchHandler, *, max_records: int = 5000
    ) -> None:
        self._batch_subscribers[topic].append((group, handler, max_records))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        by_topic: dict[str, list[CloudEvent]] = defaultdict(list)
        for message in messages:
            if message.topic in self._subscribers or message.topic in self._batch_subscribers:
                by_topic[message.topic].append(CloudEvent.from_json(message.payload))
        # The lag of a group (one partition, 0): what of the relay's batch it has yet to take.
        for topic, envelopes in by_topic.items():
            for group, _handler in self._subscribers.get(topic, []):
                observe_lag(group, topic, 0, len(envelopes))
            for index, envelope in enumerate(envelopes):
                for group, handler in self._subscribers.get(topic, []):
                    with tracing.handling((envelope,), topic, group):
                        await handler(envelope)
                    observe_lag(group, topic, 0, len(envelopes) - index - 1)
            for group, batch_handler, max_records in self._batch_subscribers.get(topic, []):
                observe_lag(group, topic, 0, len(envelopes))
                for start in range(0, len(envelopes), max_records):
                    await asyncio.sleep(0)  # requests waiting on this event loop go first
                    batch = envelopes[start : start + max_records]
                    with tracing.handling(batch, topic, group):
                        await _deliver(batch_handler, batch)
                    observe_lag(group, topic, 0, len(envelopes) - start - max_records)

    async def reset(self) -> None:
        return None


async def _deliver(handler: BatchHandler, batch: Sequence[CloudEvent]) -> None:
    try:
        await handler(batch)
    except Exception:
        if len(batch) == 1:
            raise
        log.warning("a batch of %d events failed; delivering them one by one", len(batch))
        for envelope in batch:
            await handler([envelope])
