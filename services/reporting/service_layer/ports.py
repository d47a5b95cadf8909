"""What the reporting service's handlers and entrypoints need from outside."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.adapters.snapshot import SnapshotCache
from services.reporting.adapters.unit_of_work import ReportingUnitOfWork
from shared.phases import Phase


@dataclass(frozen=True)
class ReportingPorts:
    """Built by bootstrap."""

    uow: Callable[[], ReportingUnitOfWork]
    sessions: async_sessionmaker[AsyncSession]
    phases: Sequence[Phase]
    small_cell_threshold: int = 5
    ending_within_days: int = 30
    open_longer_than_days: int = 60
    snapshots: SnapshotCache = field(default_factory=SnapshotCache)
    """The read models in memory for evaluations (one copy per process)."""
