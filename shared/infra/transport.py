"""How events move between services: the interface, and the in-process bus of the
embedded default (Kafka's adapter is in `shared.infra.kafka`)."""

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from shared.contract.envelope import CloudEvent
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

    async def start(self) -> None:
        """Connect; subscriptions must be registered before."""

    async def stop(self) -> None:
        """Disconnect without acknowledging anything in flight."""


class InProcessBus:
    """The embedded default's bus: publishing calls each subscriber and returns after all
    committed, so the outbox marks a row only once every consumer has it."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[tuple[str, EnvelopeHandler]]] = defaultdict(list)
        self._sources: dict[str, Callable[[], Awaitable[int]]] = {}

    def register_source(self, topic: str, pending: Callable[[], Awaitable[int]]) -> None:
        """Tell the bus how many events of `topic` are still waiting in their outbox."""
        self._sources[topic] = pending

    async def caught_up(self, topic: str, group: str) -> bool:
        """Every subscriber has an event once its outbox row is marked published."""
        pending = self._sources.get(topic)
        return pending is None or await pending() == 0

    def publisher(self) -> Publisher:
        return self

    def subscribe(self, topic: str, group: str, handler: EnvelopeHandler) -> None:
        self._subscribers[topic].append((group, handler))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        for message in messages:
            envelope = CloudEvent.from_json(message.payload)
            for _group, handler in self._subscribers.get(message.topic, []):
                await handler(envelope)

    async def reset(self) -> None:
        return None
