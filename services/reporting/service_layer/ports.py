"""What the reporting service's use cases need from the outside world, as protocols.

`bootstrap.py` wires the adapters (`adapters/unit_of_work.py`, `adapters/queries.py`);
nothing here knows whether the read models live in PostgreSQL, SQLite or memory.
"""

import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from services.reporting.domain.columnar.alerts import AlertLists
from services.reporting.domain.evaluation import Evaluation, Filters, Rollup
from services.reporting.domain.plans import PlanProgress
from services.reporting.service_layer.changes import Changes
from shared.contract.envelope import CloudEvent
from shared.phases import Phase
from shared.seedwork.ports import UnitOfWork


class ReportingUnitOfWork(UnitOfWork, Protocol):
    """One transaction on the read models: a batch's claims and its changes together."""

    async def apply(self, changes: Changes) -> None:
        """Merge a batch's folded rows into the live read models (idempotent, order-tolerant)."""
        ...


class ReportQueries(Protocol):
    """The figures leadership reads, counted over the read models as at the end of a day."""

    async def evaluate(
        self, phase: Phase, as_of: dt.date, filters: Filters, *, rollup: Rollup, threshold: int
    ) -> Evaluation:
        """The phase's evaluation; counts under `threshold` suppressed."""
        ...

    async def alerts(
        self,
        as_of: dt.date,
        *,
        ending_within: int,
        open_longer_than: int,
        limit: int,
        arrangement_within: int = 30,
    ) -> AlertLists:
        """Secondments ending soon or overdue, ended ones with no post arrangement after
        `arrangement_within` days, needs open long."""
        ...

    async def monthly(
        self, phase: Phase, as_of: dt.date, filters: Filters, *, rollup: Rollup
    ) -> list[tuple[str, int, int]]:
        """(YYYY-MM, started, ended) for each month of the phase up to `as_of`."""
        ...

    async def plans(
        self, phase: Phase, as_of: dt.date, filters: Filters, *, rollup: Rollup
    ) -> PlanProgress:
        """The locality plans in force against the secondments started (the `behind_plan`
        alert; the evaluation carries the same block)."""
        ...


class EventSource(Protocol):
    """Every event of both topics, from the beginning (a rebuild's source)."""

    skipped: int
    """Messages that are not even an envelope (the live projection dead-letters them)."""

    async def total(self) -> int:
        """How many events there are now (for the progress bar)."""
        ...

    def batches(self) -> AsyncIterator[list[CloudEvent]]:
        """Batches up to the current end; a later call continues from there."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class ReadModelSwap(Protocol):
    """The transaction that swaps a new generation in, with the live projection held off."""

    async def write(self, changes: Changes) -> None:
        """Merge the last changes into the new generation, before it goes live."""
        ...


class FreshReadModels(Protocol):
    """A new generation of the read models, filled aside while the live one serves."""

    async def create(self) -> None:
        """Empty tables for the new generation (leftovers of an interrupted rebuild gone)."""
        ...

    async def write(self, changes: Changes) -> None:
        """Merge folded rows into the new generation, in a transaction of their own."""
        ...

    def swap_in(self) -> AbstractAsyncContextManager[ReadModelSwap]:
        """Hold off the live projection; on leaving, the new generation is the live one."""
        ...


@dataclass(frozen=True)
class ReportingPorts:
    """Built by bootstrap."""

    uow: Callable[[], ReportingUnitOfWork]
    queries: ReportQueries
    phases: Sequence[Phase]
    small_cell_threshold: int = 5
    ending_within_days: int = 30
    open_longer_than_days: int = 60
    arrangement_within_days: int = 30
