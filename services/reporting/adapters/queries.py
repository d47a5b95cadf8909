"""Read-side queries: the evaluation (counted in memory over the read models, see
`adapters/snapshot.py` and `domain/columnar.py`), the alerts and the monthly timeline
(grouped by the database).

"As at the end of `as_of`": facts dated after `as_of` are ignored. Facts with a history
(amendments, fills/reopenings, extensions, post arrangements) use the row's latest fact when
it is the only one, and the history table only for the few rows flagged `*_multi`.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.reporting.adapters.snapshot import SnapshotCache, load
from services.reporting.adapters.tables import LIVE, ReadModels
from services.reporting.domain.columnar import Selection, tally
from services.reporting.domain.evaluation import (
    Evaluation,
    Filters,
    Rollup,
    assemble,
    counting_window,
)
from shared.phases import Phase
from shared.reference import reference_data
from shared.reference.catalog import UnknownReferenceError


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _on_or_before(column: Any, day: dt.date) -> ColumnElement[bool]:
    return and_(column.is_not(None), column <= day)


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


@dataclass(frozen=True)
class AsOf:
    """The as-of expressions over one generation of the read models."""

    t: ReadModels
    day: dt.date

    # ----- secondments
    def planned_end(self) -> ColumnElement[dt.date]:
        """Planned end after the extensions decided by the day."""
        s, x = self.t.secondments, self.t.extensions
        history = (
            select(x.c.new_planned_end_date)
            .where(x.c.secondment_id == s.c.secondment_id, x.c.decided_on <= self.day)
            .order_by(x.c.decided_on.desc(), x.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        return case(
            (s.c.ext_multi, func.coalesce(history, s.c.planned_end_date)),
            (_on_or_before(s.c.ext_decided_on, self.day), s.c.ext_planned_end),
            else_=s.c.planned_end_date,
        )

    def ended(self) -> ColumnElement[bool]:
        return _on_or_before(self.t.secondments.c.ended_on, self.day)

    # ----- needs
    def need_field(self, name: str) -> ColumnElement[Any]:
        """A need's field as amended by the day."""
        n, h = self.t.needs, self.t.need_amendments
        history = (
            select(h.c[name])
            .where(h.c.need_id == n.c.need_id, h.c.amended_on <= self.day, h.c[name].is_not(None))
            .order_by(h.c.amended_on.desc(), h.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        latest = n.c[f"am_{name}"]
        return case(
            (n.c.am_multi, func.coalesce(history, n.c[name])),
            (and_(_on_or_before(n.c.amended_on, self.day), latest.is_not(None)), latest),
            else_=n.c[name],
        )

    def withdrawn(self) -> ColumnElement[bool]:
        return _on_or_before(self.t.needs.c.withdrawn_on, self.day)

    def filled(self) -> ColumnElement[bool]:
        """Every position taken by the day (the latest of NeedFilled / NeedReopened), not
        withdrawn."""
        n, f = self.t.needs, self.t.need_fills
        history = (
            select(f.c.kind)
            .where(f.c.need_id == n.c.need_id, f.c.on_date <= self.day)
            .order_by(f.c.on_date.desc(), f.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        raw = case(
            (n.c.reopened, func.coalesce(history, "") == "FILLED"),
            else_=_on_or_before(n.c.filled_on, self.day),
        )
        return and_(raw, not_(self.withdrawn()))


PG_QUERY_SETTINGS = {
    # Compiling the alerts' queries just in time costs far more (0.1 to 2 s) than running them.
    "jit": "off",
    # Grouping and sorting the phase's rows stays in memory.
    "work_mem": "64MB",
}
"""Settings for the evaluation's transaction (SET LOCAL: they end with it)."""


async def tune_session(session: AsyncSession) -> None:
    """Apply `PG_QUERY_SETTINGS` to the session's transaction (PostgreSQL only)."""
    if session.bind.dialect.name != "postgresql":
        return
    await session.execute(
        select(*(func.set_config(k, v, True) for k, v in PG_QUERY_SETTINGS.items()))
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
    """The phase's evaluation as at the end of `as_of`, counted over the read models in
    memory: the process's `cache` of the live tables, else (another generation, or no cache)
    a copy read for this call."""
    if cache is not None and models is LIVE:
        snapshot = await cache.current(session)
    else:
        snapshot = await load(session, models)
    window = counting_window(phase, as_of)
    first, last = window if window else (phase.starts_on, phase.starts_on - dt.timedelta(days=1))
    selection = Selection(
        first=first,
        last=last,
        as_of=as_of,
        home_units=unit_codes(filters.home_unit, rollup) if filters.home_unit else None,
        host_units=unit_codes(filters.host_unit, rollup) if filters.host_unit else None,
        sector=filters.sector,
    )
    return assemble(
        phase_id=phase.phase_id,
        as_of=as_of,
        filters=filters,
        rollup=rollup,
        tally=tally(snapshot, selection, unit_key(rollup)),
        threshold=threshold,
    )


# ----- alerts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRows:
    """Rows behind the alerts list."""

    ending_soon: Sequence[Any]
    overdue: Sequence[Any]
    open_needs: Sequence[Any]


async def alert_rows(
    session: AsyncSession,
    as_of: dt.date,
    *,
    ending_within: int,
    open_longer_than: int,
    limit: int,
    models: ReadModels = LIVE,
) -> tuple[AlertRows, dict[str, int]]:
    """Active secondments ending within `ending_within` days (inclusive), overdue ones, and
    needs open for at least `open_longer_than` days, as at the end of `as_of`."""
    at = AsOf(models, as_of)
    s, n = models.secondments, models.needs
    planned = at.planned_end()
    active = and_(
        s.c.official_id.is_not(None),
        s.c.cancelled_on.is_(None),
        s.c.start_date <= as_of,
        not_(at.ended()),
    )
    columns = (
        s.c.secondment_id,
        s.c.official_id,
        s.c.home_unit,
        s.c.host_unit,
        s.c.sector,
        s.c.start_date,
        planned.label("planned_end_date"),
    )
    soon = and_(active, planned >= as_of, planned <= as_of + dt.timedelta(days=ending_within))
    late = and_(active, planned < as_of)
    raised_on = at.need_field("raised_on")
    open_long = and_(
        n.c.raised_on.is_not(None),
        raised_on <= as_of - dt.timedelta(days=open_longer_than),
        not_(at.withdrawn()),
        not_(at.filled()),
    )
    ending_soon = (
        await session.execute(
            select(*columns).where(soon).order_by(planned, s.c.secondment_id).limit(limit)
        )
    ).all()
    overdue = (
        await session.execute(
            select(*columns).where(late).order_by(planned, s.c.secondment_id).limit(limit)
        )
    ).all()
    needs = (
        await session.execute(
            select(
                n.c.need_id,
                at.need_field("host_unit").label("host_unit"),
                at.need_field("sector").label("sector"),
                at.need_field("positions").label("positions"),
                raised_on.label("raised_on"),
            )
            .where(open_long)
            .order_by(raised_on, n.c.need_id)
            .limit(limit)
        )
    ).all()
    counts_row = (
        await session.execute(
            select(_count(soon), _count(late)).select_from(s).where(s.c.official_id.is_not(None))
        )
    ).one()
    open_count = await session.scalar(select(func.count()).select_from(n).where(open_long))
    counts = {
        "ending_soon": int(counts_row[0]),
        "overdue": int(counts_row[1]),
        "needs_open_long": int(open_count or 0),
    }
    return AlertRows(ending_soon, overdue, needs), counts


async def monthly(
    session: AsyncSession,
    phase: Phase,
    as_of: dt.date,
    filters: Filters,
    *,
    rollup: Rollup = "none",
    models: ReadModels = LIVE,
) -> list[tuple[str, int, int]]:
    """(YYYY-MM, started, ended) for each month of the phase up to `as_of` (the timeline)."""
    window = counting_window(phase, as_of)
    if window is None:
        return []
    first, last = window
    s = models.secondments
    where: list[ColumnElement[bool]] = [
        s.c.official_id.is_not(None),
        s.c.cancelled_on.is_(None),
        s.c.start_date >= first,
        s.c.start_date <= last,
    ]
    if filters.home_unit:
        where.append(s.c.home_unit.in_(unit_codes(filters.home_unit, rollup)))
    if filters.host_unit:
        where.append(s.c.host_unit.in_(unit_codes(filters.host_unit, rollup)))
    if filters.sector:
        where.append(s.c.sector == filters.sector)

    def month(column: Any) -> Any:
        if session.bind.dialect.name == "sqlite":
            return func.strftime("%Y-%m", column)
        return func.to_char(column, "YYYY-MM")

    started: dict[str, int] = dict(
        (
            await session.execute(
                select(month(s.c.start_date), func.count())
                .where(*where)
                .group_by(month(s.c.start_date))
            )
        )
        .tuples()
        .all()
    )
    ended: dict[str, int] = dict(
        (
            await session.execute(
                select(month(s.c.ended_on), func.count())
                .where(*where, _on_or_before(s.c.ended_on, as_of))
                .group_by(month(s.c.ended_on))
            )
        )
        .tuples()
        .all()
    )
    out = []
    year, mon = first.year, first.month
    while (year, mon) <= (last.year, last.month):
        key = f"{year:04d}-{mon:02d}"
        out.append((key, int(started.get(key, 0)), int(ended.get(key, 0))))
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return out
