"""What the placement service's handlers and entrypoints need from outside."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from services.placement.adapters.unit_of_work import PlacementUnitOfWork
from shared.phases import Phase


@dataclass(frozen=True)
class PlacementPorts:
    """Built by bootstrap."""

    uow: Callable[[], PlacementUnitOfWork]
    phases: Sequence[Phase]
    needs_caught_up: Callable[[], Awaitable[bool]]
    """True once the needs topic is consumed to its end (NEED_UNKNOWN vs NOT_YET_KNOWN)."""
