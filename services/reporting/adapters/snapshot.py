"""Keeps the read models in memory for evaluations, refreshed from the change log.

An evaluation first asks `rm_revision` (one row) where the read models stand:
- same generation and revision as the copy in memory: count on it as it is;
- same generation, later revision: read the aggregates `rm_changes` names for the revisions
  since (their rows and their whole histories) and overwrite them in memory;
- another generation (a rebuild was swapped in), a gap in the change log (it keeps
  `CHANGES_KEPT` revisions) or more changed aggregates than `RELOAD_ABOVE`: read everything.

The projection writes a revision with the row of `rm_revision` locked until it commits
(`adapters/writer.log_changes`), so once revision R is visible every change up to R is too;
rows read in the same pass may be newer than R and are read again later (harmless: a refresh
overwrites whole aggregates). Each process keeps its own copy; nothing is shared between them.
"""

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.adapters.tables import LIVE, ReadModels, rm_changes, rm_revision
from services.reporting.domain.columnar.store import Snapshot

RELOAD_ABOVE = 50_000
"""Changed aggregates above which reading everything is cheaper than reading them by id."""
ID_CHUNK = 500
"""Ids per `IN (…)` where the database has no arrays (SQLite)."""


@dataclass
class Refresh:
    """What the last refresh did (for logs and the bench)."""

    kind: str  # "none", "changes" or "full"
    aggregates: int
    seconds: float


def _secondment_columns(t: ReadModels) -> Select[Any]:
    s = t.secondments.c
    return select(
        s.secondment_id,
        s.need_id,
        s.official_id,
        s.home_unit,
        s.host_unit,
        s.sector,
        s.ethnicity,
        s.gender,
        s.start_date,
        s.planned_end_date,
        s.ended_on,
        s.end_reason,
        s.rating,
        s.cancelled_on,
        s.ext_multi,
        s.ext_decided_on,
        s.ext_planned_end,
        s.arr_multi,
        s.arrangement,
        s.arr_effective,
        s.received_on,
        s.arr_destination,
    )


def _need_columns(t: ReadModels) -> Select[Any]:
    n = t.needs.c
    return select(
        n.need_id,
        n.host_unit,
        n.sector,
        n.positions,
        n.raised_on,
        n.withdrawn_on,
        n.filled_on,
        n.reopened,
        n.am_multi,
        n.amended_on,
        n.am_host_unit,
        n.am_sector,
        n.am_positions,
        n.am_raised_on,
    )


def _queries(t: ReadModels) -> dict[str, tuple[Select[Any], Any]]:
    """Per kind of rows: the query and the column its owner's id is in."""
    x, a, h, f = t.extensions.c, t.arrangements.c, t.need_amendments.c, t.need_fills.c
    p = t.promotions.c
    return {
        "secondments": (_secondment_columns(t), t.secondments.c.secondment_id),
        "extensions": (
            select(x.secondment_id, x.version, x.decided_on, x.new_planned_end_date),
            x.secondment_id,
        ),
        "arrangements": (
            select(a.secondment_id, a.version, a.effective_date, a.arrangement, a.destination_unit),
            a.secondment_id,
        ),
        "promotions": (select(p.secondment_id, p.version, p.promoted_on), p.secondment_id),
        "needs": (_need_columns(t), t.needs.c.need_id),
        "amendments": (
            select(
                h.need_id, h.version, h.amended_on, h.host_unit, h.sector, h.positions, h.raised_on
            ),
            h.need_id,
        ),
        "fills": (select(f.need_id, f.version, f.on_date, f.kind), f.need_id),
    }


async def _rows(
    session: AsyncSession, query: Select[Any], owner: Any, ids: Sequence[str] | None
) -> list[Any]:
    if ids is None:
        return list((await session.execute(query)).tuples())
    if session.bind.dialect.name == "postgresql":
        # One array parameter: no statement with thousands of placeholders to build.
        wanted = owner == any_(bindparam("ids", list(ids), type_=ARRAY(String)))
        return list((await session.execute(query.where(wanted))).tuples())
    out: list[Any] = []
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        out.extend((await session.execute(query.where(owner.in_(chunk)))).tuples())
    return out


async def read_into(
    snapshot: Snapshot,
    session: AsyncSession,
    models: ReadModels,
    need_ids: Sequence[str] | None = None,
    secondment_ids: Sequence[str] | None = None,
) -> None:
    """Read every row (ids None) or the rows of the given aggregates into `snapshot`."""
    q = _queries(models)
    if need_ids is None or need_ids:
        snapshot.put_needs(await _rows(session, *q["needs"], need_ids))
        amendments = await _rows(session, *q["amendments"], need_ids)
        fills = await _rows(session, *q["fills"], need_ids)
        owners = need_ids if need_ids is not None else []
        snapshot.put_amendments(owners, amendments)
        snapshot.put_fills(owners, fills)
    if secondment_ids is None or secondment_ids:
        snapshot.put_secondments(await _rows(session, *q["secondments"], secondment_ids))
        extensions = await _rows(session, *q["extensions"], secondment_ids)
        arrangements = await _rows(session, *q["arrangements"], secondment_ids)
        promotions = await _rows(session, *q["promotions"], secondment_ids)
        owners = secondment_ids if secondment_ids is not None else []
        snapshot.put_extensions(owners, extensions)
        snapshot.put_arrangements(owners, arrangements)
        snapshot.put_promotions(owners, promotions)


async def load(session: AsyncSession, models: ReadModels = LIVE) -> Snapshot:
    """Every row of one generation of the read models, in memory."""
    snapshot = Snapshot()
    await read_into(snapshot, session, models)
    return snapshot


class SnapshotCache:
    """The live read models in memory for one process, refreshed before each use."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._generation: str | None = None
        self._revision = 0
        self._lock = asyncio.Lock()
        self.last = Refresh("none", 0, 0.0)

    @property
    def generation(self) -> str | None:
        """The generation of the read-model tables the copy was read from."""
        return self._generation

    @property
    def revision(self) -> int:
        """The change-log revision the copy in memory has caught up with (0: none yet)."""
        return self._revision

    async def _position(self, session: AsyncSession) -> tuple[int, str]:
        row = (
            await session.execute(select(rm_revision.c.revision, rm_revision.c.generation))
        ).one()
        return int(row[0]), str(row[1])

    async def current(self, session: AsyncSession) -> Snapshot:
        """The read models as of now (at least every change committed before the call)."""
        async with self._lock:
            started = time.perf_counter()
            for _ in range(3):
                revision, generation = await self._position(session)
                if (
                    self._snapshot is None
                    or generation != self._generation
                    or revision < self._revision  # restored from a backup, or re-migrated
                ):
                    await self._reload(session, revision, generation, started)
                elif revision != self._revision:
                    await self._catch_up(session, revision, generation, started)
                else:
                    self.last = Refresh("none", 0, time.perf_counter() - started)
                    break  # nothing read: nothing mixed
                # A rebuild swapped in while we read would mix two generations: read again.
                if (await self._position(session))[1] == self._generation:
                    break
                self._generation = None
            assert self._snapshot is not None
            return self._snapshot

    async def generation_changed(self, session: AsyncSession) -> bool:
        """Whether a rebuild was swapped in since the copy was read."""
        return self._snapshot is not None and (await self._position(session))[1] != self._generation

    async def reload_aside(self, session: AsyncSession) -> None:
        """Read everything again into a new copy while evaluations go on with the current one,
        then swap it in: a safety net for writes that bypassed the change log (an old version
        still projecting during an upgrade, a manual fix)."""
        started = time.perf_counter()
        revision, generation = await self._position(session)
        fresh = await load(session)
        if (await self._position(session))[1] != generation:
            return  # a rebuild came in meanwhile: the next evaluation reloads
        await session.rollback()  # hold no read transaction while waiting for the lock
        async with self._lock:
            self._snapshot, self._generation, self._revision = fresh, generation, revision
            self.last = Refresh("full", len(fresh.secondments), time.perf_counter() - started)

    async def _reload(
        self, session: AsyncSession, revision: int, generation: str, started: float
    ) -> None:
        self._snapshot = await load(session)
        self._generation, self._revision = generation, revision
        self.last = Refresh("full", len(self._snapshot.secondments), time.perf_counter() - started)

    async def _catch_up(
        self, session: AsyncSession, revision: int, generation: str, started: float
    ) -> None:
        rows = (
            await session.execute(
                select(rm_changes.c.revision, rm_changes.c.need_ids, rm_changes.c.secondment_ids)
                .where(rm_changes.c.revision > self._revision, rm_changes.c.revision <= revision)
                .order_by(rm_changes.c.revision)
            )
        ).all()
        complete = [r[0] for r in rows] == list(range(self._revision + 1, revision + 1))
        needs: set[str] = set()
        secondments: set[str] = set()
        for _, need_ids, secondment_ids in rows:
            needs.update(json.loads(need_ids))
            secondments.update(json.loads(secondment_ids))
        if not complete or len(needs) + len(secondments) > RELOAD_ABOVE:
            await self._reload(session, revision, generation, started)
            return
        assert self._snapshot is not None
        await read_into(self._snapshot, session, LIVE, sorted(needs), sorted(secondments))
        self._revision = revision
        self.last = Refresh("changes", len(needs) + len(secondments), time.perf_counter() - started)
