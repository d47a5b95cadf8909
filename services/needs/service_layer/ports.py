"""What the needs service's handlers and entrypoints need from the outside world."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.needs.adapters.unit_of_work import NeedsUnitOfWork
from shared.phases import Phase


@dataclass(frozen=True)
class NeedsPorts:
    """Built by bootstrap; fakes can replace the unit of work in unit tests."""

    uow: Callable[[], NeedsUnitOfWork]
    phases: Sequence[Phase]
