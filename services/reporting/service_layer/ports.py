"""What the reporting service's use cases need from the outside world, as protocols.

`bootstrap.py` wires the adapters (`adapters/unit_of_work.py`, `adapters/queries.py`);
nothing here knows whether the read models live in PostgreSQL, SQLite or memory.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from services.reporting.domain.columnar.alerts import AlertLists
from services.reporting.domain.evaluation import Evaluation, Filters, Rollup
from services.reporting.service_layer.changes import Changes
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
        self, as_of: dt.date, *, ending_within: int, open_longer_than: int, limit: int
    ) -> AlertLists:
        """Secondments ending soon or overdue, needs open long."""
        ...

    async def monthly(
        self, phase: Phase, as_of: dt.date, filters: Filters, *, rollup: Rollup
    ) -> list[tuple[str, int, int]]:
        """(YYYY-MM, started, ended) for each month of the phase up to `as_of`."""
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
