"""Read-side queries: the evaluation, the alerts and the monthly timeline, all counted over the
read models in memory (`adapters/snapshot.py` keeps them current, `domain/columnar/`
counts). "As at the end of `as_of`": facts dated after `as_of` are ignored.

Callers pass the process's `SnapshotCache`; without one (or for another generation of the
tables, such as a rebuild's), the read models are read afresh for the call.
"""

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.adapters.snapshot import SnapshotCache, load
from services.reporting.adapters.tables import LIVE, ReadModels
from services.reporting.domain.columnar.alerts import AlertLists, alert_lists
from services.reporting.domain.columnar.asof import Selection
from services.reporting.domain.columnar.progress import seconded_by_unit_year
from services.reporting.domain.columnar.store import Snapshot
from services.reporting.domain.columnar.tally import tally
from services.reporting.domain.columnar.timeline import timeline
from services.reporting.domain.evaluation import (
    Evaluation,
    Filters,
    Rollup,
    assemble,
    counting_window,
)
from services.reporting.domain.plans import PlanDecision, PlanProgress, plan_progress
from shared.phases import Phase
from shared.reference import reference_data
from shared.reference.catalog import UnknownReferenceError


def unit_key(rollup: Rollup) -> Any:
    """Group key of a unit code: its roll-up unit with `successor`, else itself."""
    if rollup == "none":
        return lambda code: code
    ref = reference_data()

    def key(code: str) -> str:
        try:
            return ref.rollup(code)
        except UnknownReferenceError:
            return code

    return key


def unit_codes(code: str, rollup: Rollup) -> list[str]:
    """Codes a unit filter matches: itself, and with `successor` the units rolling up to it."""
    if rollup == "none":
        return [code]
    key = unit_key(rollup)
    return sorted({code} | {u.code for u in reference_data().units() if key(u.code) == code})


async def read_models(
    session: AsyncSession, cache: SnapshotCache | None, models: ReadModels = LIVE
) -> Snapshot:
    """The read models in memory: the cache's copy of the live tables, else read now."""
    if cache is not None and models is LIVE:
        return await cache.current(session)
    return await load(session, models)


def selection(phase: Phase, as_of: dt.date, filters: Filters, rollup: Rollup) -> Selection:
    """What counts for the phase as at `as_of` (nothing when `as_of` precedes the phase)."""
    window = counting_window(phase, as_of)
    first, last = window if window else (phase.starts_on, phase.starts_on - dt.timedelta(days=1))
    return Selection(
        first=first,
        last=last,
        as_of=as_of,
        home_units=unit_codes(filters.home_unit, rollup) if filters.home_unit else None,
        host_units=unit_codes(filters.host_unit, rollup) if filters.host_unit else None,
        sector=filters.sector or None,  # an empty filter is no filter
    )


async def evaluate(
    session: AsyncSession,
    phase: Phase,
    as_of: dt.date,
    filters: Filters,
    *,
    rollup: Rollup = "none",
    threshold: int = 5,
    models: ReadModels = LIVE,
    cache: SnapshotCache | None = None,
) -> Evaluation:
    """The phase's evaluation as at the end of `as_of`."""
    snapshot = await read_models(session, cache, models)
    evaluation = assemble(
        phase_id=phase.phase_id,
        as_of=as_of,
        filters=filters,
        rollup=rollup,
        tally=tally(snapshot, selection(phase, as_of, filters, rollup), unit_key(rollup)),
        threshold=threshold,
    )
    evaluation.plans = await progress_against_plans(
        session, snapshot, phase, as_of, filters, rollup=rollup, models=models
    )
    return evaluation


async def plan_decisions(session: AsyncSession, models: ReadModels = LIVE) -> list[PlanDecision]:
    """Every decision of every locality plan (a few rows per locality and phase: read at each
    evaluation rather than kept in memory)."""
    t = models.plan_versions
    rows = await session.execute(
        select(
            t.c.plan_id,
            t.c.version,
            t.c.home_unit,
            t.c.phase_id,
            t.c.decided_on,
            t.c.decision_no,
            t.c.targets,
        )
    )
    return [PlanDecision(*row) for row in rows]


async def progress_against_plans(
    session: AsyncSession,
    snapshot: Snapshot,
    phase: Phase,
    as_of: dt.date,
    filters: Filters,
    *,
    rollup: Rollup = "none",
    models: ReadModels = LIVE,
) -> PlanProgress:
    """The plans in force against the secondments started, for the phase as at `as_of`. The
    `host_unit` filter does not apply (a plan names no host); `home_unit` and `sector` do."""
    key = unit_key(rollup)
    chosen = selection(phase, as_of, filters.model_copy(update={"host_unit": None}), rollup)
    return plan_progress(
        phase,
        as_of,
        await plan_decisions(session, models),
        seconded_by_unit_year(snapshot, chosen, key),
        key=key,
        home_units=chosen.home_units,
        sector=chosen.sector,
    )


async def plans(
    session: AsyncSession,
    phase: Phase,
    as_of: dt.date,
    filters: Filters,
    *,
    rollup: Rollup = "none",
    models: ReadModels = LIVE,
    cache: SnapshotCache | None = None,
) -> PlanProgress:
    """`progress_against_plans` over the read models in memory."""
    snapshot = await read_models(session, cache, models)
    return await progress_against_plans(
        session, snapshot, phase, as_of, filters, rollup=rollup, models=models
    )


async def alerts(
    session: AsyncSession,
    as_of: dt.date,
    *,
    ending_within: int,
    open_longer_than: int,
    limit: int,
    arrangement_within: int = 30,
    models: ReadModels = LIVE,
    cache: SnapshotCache | None = None,
) -> AlertLists:
    """Active secondments ending within `ending_within` days (inclusive), overdue ones, ended
    ones with no post arrangement after `arrangement_within` days, and needs open for at least
    `open_longer_than` days, as at the end of `as_of`."""
    snapshot = await read_models(session, cache, models)
    return alert_lists(
        snapshot,
        as_of,
        ending_within=ending_within,
        open_longer_than=open_longer_than,
        limit=limit,
        arrangement_within=arrangement_within,
    )


async def monthly(
    session: AsyncSession,
    phase: Phase,
    as_of: dt.date,
    filters: Filters,
    *,
    rollup: Rollup = "none",
    models: ReadModels = LIVE,
    cache: SnapshotCache | None = None,
) -> list[tuple[str, int, int]]:
    """(YYYY-MM, started, ended) for each month of the phase up to `as_of` (the timeline)."""
    if counting_window(phase, as_of) is None:
        return []
    snapshot = await read_models(session, cache, models)
    return timeline(snapshot, selection(phase, as_of, filters, rollup))


class SqlReportQueries:
    """`service_layer.ports.ReportQueries` over the read models: each call in a session of
    its own, counted from the process's copy in memory."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: SnapshotCache) -> None:
        self._sessions = sessions
        self.cache = cache

    async def evaluate(
        self, phase: Phase, as_of: dt.date, filters: Filters, *, rollup: Rollup, threshold: int
    ) -> Evaluation:
        async with self._sessions() as session:
            return await evaluate(
                session, phase, as_of, filters, rollup=rollup, threshold=threshold, cache=self.cache
            )

    async def alerts(
        self,
        as_of: dt.date,
        *,
        ending_within: int,
        open_longer_than: int,
        limit: int,
        arrangement_within: int = 30,
    ) -> AlertLists:
        async with self._sessions() as session:
            return await alerts(
                session,
                as_of,
                ending_within=ending_within,
                open_longer_than=open_longer_than,
                limit=limit,
                arrangement_within=arrangement_within,
                cache=self.cache,
            )

    async def monthly(
        self, phase: Phase, as_of: dt.date, filters: Filters, *, rollup: Rollup
    ) -> list[tuple[str, int, int]]:
        async with self._sessions() as session:
            return await monthly(session, phase, as_of, filters, rollup=rollup, cache=self.cache)

    async def plans(
        self, phase: Phase, as_of: dt.date, filters: Filters, *, rollup: Rollup
    ) -> PlanProgress:
        async with self._sessions() as session:
            return await plans(session, phase, as_of, filters, rollup=rollup, cache=self.cache)
