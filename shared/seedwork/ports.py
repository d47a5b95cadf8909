"""The ports every service's use cases see: a unit of work and a repository of event-sourced
aggregates, as protocols.

The service layers type their handlers with these (and with their own service's ports, which
extend them), never with the SQLAlchemy adapters that implement them (`shared.infra.uow`,
`shared.infra.eventstore`): the use cases read and test without a database, on the in-memory
fakes of `tests/unit/fakes.py`, and `bootstrap.py` alone picks the adapter.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, TypeVar

from pydantic import BaseModel

from shared.contract.envelope import CloudEvent, new_event
from shared.seedwork.aggregate import Aggregate


@dataclass(frozen=True)
class RequestContext:
    """Who asked, and which request this is part of; stamped on every event it causes."""

    actor: str
    correlation_id: str
    causation_id: str
    now: dt.datetime


A = TypeVar("A", bound=Aggregate)


def pending_envelopes(
    aggregate: Aggregate, source: str, ctx: RequestContext
) -> tuple[int, list[CloudEvent]]:
    """The version the aggregate's stream must be at, and its new events as envelopes
    stamped with the request's context: what every repository appends (the SQL one and the
    unit tests' fake alike)."""
    new = aggregate.collect()
    start = aggregate.version - len(new)
    return start, [
        new_event(
            source=source,
            data=data,
            subject=aggregate.stream_id,
            version=start + i,
            correlation_id=ctx.correlation_id,
            causation_id=ctx.causation_id,
            actor=ctx.actor,
            now=ctx.now,
        )
        for i, data in enumerate(new, start=1)
    ]


class Repository(Protocol[A]):
    """Aggregates loaded from their streams; saving appends their new events."""

    async def get(self, stream_id: str) -> A | None:
        """The aggregate rebuilt from its history, or None when the stream is empty."""
        ...

    async def get_many(self, stream_ids: Sequence[str]) -> dict[str, A | None]:
        """`get` for several streams at once (a consumer's fetch touching many of them)."""
        ...

    async def history(self, stream_id: str) -> list[CloudEvent]:
        """The stream's envelopes, in version order."""
        ...

    async def save(self, aggregate: A, ctx: RequestContext) -> list[CloudEvent]:
        """Append the aggregate's pending events (optimistic concurrency); their envelopes."""
        ...


class UnitOfWork(Protocol):
    """One transaction: the aggregates' events, their outbox rows and any view rows commit
    together or not at all; leaving without `commit` rolls back."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self, answer: BaseModel | None = None) -> None:
        """Commit; `answer` is the command's result, remembered in the same transaction when
        the request being served waits for it (idempotency)."""
        ...

    @property
    def shared(self) -> bool:
        """Its transaction is shared with other commands (a fetch of Kafka commands) and
        commits after them: waiting in it for another writer's commit cannot succeed."""
        ...

    async def claim_many(self, consumer: str, envelopes: Sequence[CloudEvent]) -> list[CloudEvent]:
        """Record, in this transaction, that `consumer` processes these events; the new ones
        (a redelivery is left out, so a consumer counts nothing twice)."""
        ...
