"""Event-sourced aggregate base: state is rebuilt by applying events one by one."""

from collections.abc import Iterable
from typing import Self

from shared.contract.events import EventData


class Aggregate:
    """Holds the version and the events recorded since the aggregate was loaded.

    Subclasses implement `apply` as one pure state transition per event type; commands
    call `_record`, which applies the event and queues it for the unit of work.
    """

    def __init__(self) -> None:
        self.version = 0
        self.pending: list[EventData] = []

    @property
    def stream_id(self) -> str:
        """The event-store stream of this aggregate."""
        raise NotImplementedError

    @property
    def data_subject(self) -> str | None:
        """The person this aggregate's personal data is about (whose key seals it), if any."""
        return None

    def apply(self, event: EventData) -> None:
        """Change state for one event; must not validate (history is already true)."""
        raise NotImplementedError

    def _record(self, event: EventData) -> None:
        self.apply(event)
        self.version += 1
        self.pending.append(event)

    @classmethod
    def rehydrate(cls, events: Iterable[EventData]) -> Self:
        """Rebuild from history."""
        agg = cls.__new__(cls)
        Aggregate.__init__(agg)
        for event in events:
            agg.apply(event)
            agg.version += 1
        return agg

    def collect(self) -> list[EventData]:
        """Hand the new events to the unit of work (once)."""
        events, self.pending = self.pending, []
        return events
