"""Evaluation queries: grouped counts computed by the database over the read models.

Four small queries per evaluation, each a single pass over the phase's rows: secondments
grouped by (home, host, sector, ethnicity, gender); needs grouped by (host, sector); ended
secondments grouped by (duration, rating, post arrangement); and the few officials with more
than one secondment in the selection (for distinct counts). `domain/evaluation.py` assembles.

"As at the end of `as_of`": facts dated after `as_of` are ignored. Facts with a history
(amendments, fills/reopenings, extensions, post arrangements) use the row's latest fact when
it is the only one, and the history table only for the few rows flagged `*_multi`.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, not_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.reporting.adapters.tables import LIVE, ReadModels
from services.reporting.domain.evaluation import (
    EndedCell,
    Evaluation,
    Filters,
    NeedCell,
    RepeatedOfficial,
    Rollup,
    SecondmentCell,
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

    def arrangement(self) -> ColumnElement[str]:
        """Post arrangement in effect by the day (None if none yet)."""
        s, a = self.t.secondments, self.t.arrangements
        history = (
            select(a.c.arrangement)
            .where(a.c.secondment_id == s.c.secondment_id, a.c.effective_date <= self.day)
            .order_by(a.c.effective_date.desc(), a.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        return case(
            (s.c.arr_multi, history),
            (_on_or_before(s.c.arr_effective, self.day), s.c.arrangement),
            else_=literal(None),
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
    # Compiling these queries just in time costs far more (0.1 to 2 s) than running them.
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


def _duration(session: AsyncSession, s: Any) -> ColumnElement[int]:
    if session.bind.dialect.name == "sqlite":
        return cast(func.julianday(s.c.ended_on) - func.julianday(s.c.start_date), Integer)
    return s.c.ended_on - s.c.start_date  # type: ignore[no-any-return]


async def evaluate(
    session: AsyncSession,
    phase: Phase,
    as_of: dt.date,
    filters: Filters,
    *,
    rollup: Rollup = "none",
    threshold: int = 5,
    models: ReadModels = LIVE,
) -> Evaluation:
    """The phase's evaluation as at the end of `as_of`."""
    await tune_session(session)
    window = counting_window(phase, as_of)
    first, last = window if window else (phase.starts_on, phase.starts_on - dt.timedelta(days=1))
    at = AsOf(models, as_of)
    s = models.secondments

    sec_where: list[ColumnElement[bool]] = [
        s.c.official_id.is_not(None),
        s.c.cancelled_on.is_(None),
        s.c.start_date >= first,
        s.c.start_date <= last,
    ]
    if filters.home_unit:
        sec_where.append(s.c.home_unit.in_(unit_codes(filters.home_unit, rollup)))
    if filters.host_unit:
        sec_where.append(s.c.host_unit.in_(unit_codes(filters.host_unit, rollup)))
    if filters.sector:
        sec_where.append(s.c.sector == filters.sector)

    ended = at.ended()
    active = not_(ended)
    arrangement = at.arrangement()
    dims = (s.c.home_unit, s.c.host_unit, s.c.sector, s.c.ethnicity, s.c.gender)
    sec_rows = await session.execute(
        select(
            *dims,
            func.count().label("started"),
            _count(active).label("active"),
            _count(ended).label("ended"),
            _count(and_(ended, s.c.end_reason == "COMPLETED")).label("completed"),
            _count(and_(ended, s.c.end_reason == "TERMINATED_EARLY")).label("terminated_early"),
            _count(and_(active, at.planned_end() < as_of)).label("overdue"),
            _count(and_(ended, arrangement == "PROMOTED")).label("promoted"),
        )
        .where(*sec_where)
        .group_by(*dims)
    )
    secondments = [SecondmentCell(*row) for row in sec_rows]

    ended_rows = await session.execute(
        select(
            _duration(session, s).label("duration"),
            s.c.rating,
            arrangement.label("arrangement"),
            func.count(),
        )
        .where(*sec_where, ended)
        .group_by(_duration(session, s), s.c.rating, arrangement)
    )
    ended_cells = [EndedCell(int(r[0]), r[1], r[2], int(r[3])) for r in ended_rows]

    repeated_ids = (
        select(s.c.official_id).where(*sec_where).group_by(s.c.official_id).having(func.count() > 1)
    )
    repeated_rows = await session.execute(
        select(s.c.official_id, *dims).where(*sec_where, s.c.official_id.in_(repeated_ids))
    )
    repeated = [RepeatedOfficial(*row) for row in repeated_rows]

    needs = await _need_cells(session, at, first, last, filters, rollup)
    return assemble(
        phase_id=phase.phase_id,
        as_of=as_of,
        filters=filters,
        rollup=rollup,
        secondments=secondments,
        repeated=repeated,
        needs=needs,
        ended=ended_cells,
        unit_key=unit_key(rollup),
        threshold=threshold,
    )


async def _need_cells(
    session: AsyncSession,
    at: AsOf,
    first: dt.date,
    last: dt.date,
    filters: Filters,
    rollup: Rollup,
) -> list[NeedCell]:
    s, n = at.t.secondments, at.t.needs
    host, sector = at.need_field("host_unit"), at.need_field("sector")
    positions, raised_on = at.need_field("positions"), at.need_field("raised_on")
    where: list[ColumnElement[bool]] = [
        n.c.raised_on.is_not(None),
        raised_on >= first,
        raised_on <= last,
    ]
    if filters.host_unit:
        where.append(host.in_(unit_codes(filters.host_unit, rollup)))
    if filters.sector:
        where.append(sector == filters.sector)
    started = (
        select(s.c.need_id, func.count().label("n"))
        .where(s.c.official_id.is_not(None), s.c.cancelled_on.is_(None), s.c.start_date <= at.day)
        .group_by(s.c.need_id)
        .subquery()
    )
    taken = func.coalesce(started.c.n, 0)
    withdrawn = at.withdrawn()
    rows = await session.execute(
        select(
            host.label("host_unit"),
            sector.label("sector"),
            func.count(),
            _count(withdrawn),
            _count(at.filled()),
            func.coalesce(func.sum(positions), 0),
            func.coalesce(func.sum(case((taken < positions, taken), else_=positions)), 0),
        )
        .select_from(n.outerjoin(started, started.c.need_id == n.c.need_id))
        .where(*where)
        .group_by(host, sector)
    )
    return [NeedCell(r[0], r[1], *(int(v) for v in r[2:])) for r in rows]


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
