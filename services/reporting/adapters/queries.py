"""Evaluation queries: aggregates computed by the database over the read models."""

import datetime as dt

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.reporting.adapters.tables import rm_needs, rm_secondments
from services.reporting.domain.evaluation import (
    Evaluation,
    Filters,
    NeedsBlock,
    SecondmentsBlock,
    counting_window,
    fill_rate,
)
from shared.phases import Phase


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def evaluate(
    session: AsyncSession, phase: Phase, as_of: dt.date, filters: Filters
) -> Evaluation:
    """The phase's evaluation as at the end of `as_of`."""
    window = counting_window(phase, as_of)
    first, last = window if window else (phase.starts_on, phase.starts_on - dt.timedelta(days=1))
    n, s = rm_needs, rm_secondments

    need_filter = [n.c.raised_on >= first, n.c.raised_on <= last]
    if filters.host_unit:
        need_filter.append(n.c.host_unit == filters.host_unit)
    if filters.sector:
        need_filter.append(n.c.sector == filters.sector)
    withdrawn = and_(n.c.withdrawn_on.is_not(None), n.c.withdrawn_on <= as_of)
    filled = and_(n.c.filled_on.is_not(None), n.c.filled_on <= as_of, ~withdrawn)

    started_per_need = (
        select(s.c.need_id, func.count().label("started"))
        .where(s.c.start_date <= as_of)
        .group_by(s.c.need_id)
        .subquery()
    )
    taken = func.coalesce(started_per_need.c.started, 0)
    needs_row = (
        await session.execute(
            select(
                func.count().label("raised"),
                _count(withdrawn).label("withdrawn"),
                _count(filled).label("filled"),
                func.coalesce(func.sum(n.c.positions), 0).label("positions_requested"),
                func.coalesce(
                    func.sum(case((taken < n.c.positions, taken), else_=n.c.positions)), 0
                ).label("positions_filled"),
            )
            .select_from(n.outerjoin(started_per_need, started_per_need.c.need_id == n.c.need_id))
            .where(*need_filter)
        )
    ).one()

    sec_filter = [s.c.start_date >= first, s.c.start_date <= last]
    for column, value in (
        (s.c.home_unit, filters.home_unit),
        (s.c.host_unit, filters.host_unit),
        (s.c.sector, filters.sector),
    ):
        if value:
            sec_filter.append(column == value)
    ended = and_(s.c.ended_on.is_not(None), s.c.ended_on <= as_of)
    active = or_(s.c.ended_on.is_(None), s.c.ended_on > as_of)
    sec_row = (
        await session.execute(
            select(
                func.count().label("started"),
                _count(active).label("active"),
                _count(ended).label("ended"),
                _count(and_(ended, s.c.end_reason == literal("COMPLETED"))).label("completed"),
                _count(and_(ended, s.c.end_reason == literal("TERMINATED_EARLY"))).label(
                    "terminated_early"
                ),
                _count(and_(active, s.c.planned_end_date < as_of)).label("overdue"),
                func.count(func.distinct(s.c.official_id)).label("officials"),
            ).where(*sec_filter)
        )
    ).one()

    raised, n_withdrawn, n_filled = (
        int(needs_row.raised),
        int(needs_row.withdrawn),
        int(needs_row.filled),
    )
    requested, pos_filled = int(needs_row.positions_requested), int(needs_row.positions_filled)
    return Evaluation(
        phase_id=phase.phase_id,
        as_of=as_of,
        filters=filters,
        needs=NeedsBlock(
            raised=raised,
            withdrawn=n_withdrawn,
            filled=n_filled,
            open=raised - n_withdrawn - n_filled,
            positions_requested=requested,
            positions_filled=pos_filled,
            fill_rate=fill_rate(pos_filled, requested),
        ),
        secondments=SecondmentsBlock(
            started=int(sec_row.started),
            active=int(sec_row.active),
            ended=int(sec_row.ended),
            completed=int(sec_row.completed),
            terminated_early=int(sec_row.terminated_early),
            overdue=int(sec_row.overdue),
            officials=int(sec_row.officials),
        ),
    )
