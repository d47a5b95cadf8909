"""What the needs service's use cases need from the outside world, as protocols.

`bootstrap.py` wires the SQLAlchemy adapter (`adapters/unit_of_work.py`); the unit tests wire
an in-memory fake (`tests/unit/fakes.py`). Nothing here knows which.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from services.needs.domain.need import Need
from shared.phases import Phase
from shared.seedwork.ports import Repository, UnitOfWork


class NeedsUnitOfWork(UnitOfWork, Protocol):
    """The needs' streams and their filled positions and list rows, in one transaction."""

    @property
    def needs(self) -> Repository[Need]:
        """The needs' streams."""
        ...

    async def get_need(self, need_id: str) -> Need | None:
        """The need with its count of filled positions."""
        ...

    async def lock_needs(self, need_ids: Sequence[str]) -> None:
        """Hold the needs until commit (in the order given): two replicas counting their
        positions take turns."""
        ...

    async def fills(self, need_ids: Sequence[str]) -> dict[str, set[str]]:
        """The secondments holding a position of each need (an empty set for none)."""
        ...

    async def add_fill(self, need_id: str, secondment_id: str, decided_on: dt.date) -> None:
        """Remember a secondment to this need."""
        ...

    async def filled_positions(self, need_id: str) -> int:
        """How many secondments hold a position of this need."""
        ...

    async def remove_fill(self, need_id: str, secondment_id: str) -> None:
        """A cancelled secondment gives its position back."""
        ...

    async def write_view(self, need: Need, body: dict[str, object]) -> None:
        """Keep the need's list row in step with its events."""
        ...

    async def list_needs(
        self,
        *,
        after: int,
        limit: int,
        status: str | None,
        sector: str | None,
        host_unit: str | None,
        visible_hosts: frozenset[str] | None = None,
    ) -> list[tuple[int, dict[str, object]]]:
        """(position, body) of needs after a position, oldest first."""
        ...


@dataclass(frozen=True)
class NeedsPorts:
    """Built by bootstrap; the unit tests build it with fakes."""

    uow: Callable[[], NeedsUnitOfWork]
    phases: Sequence[Phase]
