"""SQLAlchemy unit of work of the placement service."""

import functools
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, Insert, and_, bindparam, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.placement.adapters.answer_identity import STEPS
from services.placement.adapters.tables import command_answers, core, needs_view, secondments_view
from services.placement.adapters.vault import KeyVault
from services.placement.domain.secondment import Secondment
from services.placement.domain.views import NeedSnapshot, OfficialSpell
from shared.contract.events import (
    EventData,
    NeedAmended,
    NeedFilled,
    NeedRaised,
    NeedReopened,
    NeedWithdrawn,
)
from shared.contract.personal import UNAVAILABLE_TEXT
from shared.contract.topics import PLACEMENT_SOURCE
from shared.contract.types import UnitRef
from shared.infra.db import insert_on_conflict
from shared.infra.eventstore import AggregateRepository
from shared.infra.personal_data import PersonalDataCodec
from shared.infra.uow import SqlUnitOfWork

SELECT_NEED = select(needs_view).where(needs_view.c.need_id == bindparam("b_need_id"))
"""Built once: SQLAlchemy reuses their compiled form (they run for every command and event)."""


_TAKE_POSITION = (
    update(needs_view)
    .where(
        needs_view.c.need_id == bindparam("b_need_id"),
        needs_view.c.taken < needs_view.c.positions,
    )
    .values(taken=needs_view.c.taken + 1)
)
_LOCK_OFFICIAL = select(func.pg_advisory_xact_lock(bindparam("b_key", type_=BigInteger)))
"""A SELECT construct, not text: a shared transaction counts it as a read (`fast_insert`), so a
refusal after it is answered inside a run of Kafka commands (ADR 0008)."""
_TURN = select(
    func.pg_advisory_xact_lock(bindparam("b_key", type_=BigInteger)).label("turn")
).subquery()
_NEED_TAKING_TURN = select(needs_view).select_from(
    _TURN.outerjoin(needs_view, needs_view.c.need_id == bindparam("b_need_id"))
)
"""The need, and the official's turn taken in the same round trip (one row, of NULLs when the
need is unknown). Only the lock: the official's spells are read by a later statement, whose
snapshot then sees what the previous holder committed."""
_SPELLS = select(
    secondments_view.c.secondment_id,
    secondments_view.c.start_date,
    secondments_view.c.planned_end_date,
    secondments_view.c.status,
).where(
    secondments_view.c.official_id == bindparam("b_official_id"),
    secondments_view.c.home_unit.in_(bindparam("b_home_units", expanding=True)),
)
"""The command path's statements, built once (SQLAlchemy then reuses their compiled form)."""
_TOOK = _TAKE_POSITION.returning(literal(1).label("took")).cte("took")
_ALONE = select(literal(1).label("alone")).subquery()
_SPELLS_TAKING_POSITION = select(
    select(func.count()).select_from(_TOOK).scalar_subquery().label("took"),
    secondments_view.c.secondment_id,
    secondments_view.c.start_date,
    secondments_view.c.planned_end_date,
    secondments_view.c.status,
).select_from(
    _ALONE.outerjoin(
        secondments_view,
        and_(
            secondments_view.c.official_id == bindparam("b_official_id"),
            secondments_view.c.home_unit.in_(bindparam("b_home_units", expanding=True)),
        ),
    )
)
"""PostgreSQL: a position taken and the official's spells read in one statement (one row of
NULLs beside the count when they have none)."""


def _spell(row: Any) -> OfficialSpell:
    """One of the official's secondments, as the overlap rule reads it."""
    return OfficialSpell(
        secondment_id=row.secondment_id,
        start_date=row.start_date,
        end_date=row.planned_end_date,
        active=row.status != "CANCELLED",
    )


def _official_key(official_id: str) -> int:
    """The official's advisory lock key."""
    return zlib.crc32(f"official:{official_id}".encode())


class SqlPlacementUnitOfWork(SqlUnitOfWork):
    """Secondments repository and the two views, in one transaction."""

    secondments: AggregateRepository[Secondment]

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        topic_prefix: str,
        on_commit: Callable[[], None],
        codec: Callable[[AsyncSession], PersonalDataCodec] | None = None,
        vault: KeyVault | None = None,
    ) -> None:
        super().__init__(
            sessions, core, topic_prefix=topic_prefix, on_commit=on_commit, codec=codec
        )
        self._vault = vault

    async def redact_answers(self, official_id: str) -> int:
        """Remembered answers (Idempotency-Key, Kafka commands) keep their status and ids but
        lose the official's identity: a retry after an erasure must not reveal it."""
        t = command_answers
        escaped = official_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self.session.execute(
            select(t.c.caller, t.c.key, t.c.answer).where(
                t.c.answer.like(f"%{escaped}%", escape="\\")
            )
        )
        changed = 0
        for row in rows.all():
            answer = json.loads(row.answer)
            if _redact(answer, official_id):
                await self.session.execute(
                    update(t)
                    .where(t.c.caller == row.caller, t.c.key == row.key)
                    .values(answer=json.dumps(answer, ensure_ascii=False))
                )
                changed += 1
        return changed

    @property
    def vault(self) -> KeyVault:
        """The officials' keys (their own store: erasure deletes one)."""
        if self._vault is None:
            raise RuntimeError("PLACEMENT_MASTER_KEY is not set")
        return self._vault

    def _started(self) -> None:
        self.secondments = AggregateRepository(
            self.events, Secondment.rehydrate, source=PLACEMENT_SOURCE
        )
        self._turns: set[str] = set()
        """Officials whose advisory lock this transaction holds (PostgreSQL)."""

    async def need(self, need_id: str, *, lock_official: str | None = None) -> NeedSnapshot | None:
        """The need as last consumed from the needs topic; with `lock_official`, that
        official's turn (see `spells`) is taken in the same statement on PostgreSQL."""
        if lock_official is not None and self.session.bind.dialect.name == "postgresql":
            params = {"b_need_id": need_id, "b_key": _official_key(lock_official)}
            row = (await self.session.execute(_NEED_TAKING_TURN, params)).first()
            self._turns.add(lock_official)
            if row is not None and row.need_id is None:
                row = None
        else:
            row = (await self.session.execute(SELECT_NEED, {"b_need_id": need_id})).first()
        if row is None:
            return None
        return NeedSnapshot(
            need_id=row.need_id,
            host_unit=UnitRef(code=row.host_unit_code, name=row.host_unit_name),
            sector=row.sector,
            positions=row.positions,
            min_rank=row.min_rank,
            status=row.status,
            taken=row.taken,
        )

    async def take_position(self, need_id: str) -> bool:
        """Atomically take a free position; False when another request took the last one."""
        result = await self.session.execute(_TAKE_POSITION, {"b_need_id": need_id})
        return bool(getattr(result, "rowcount", 0) == 1)

    async def spells(self, official_id: str, home_units: Iterable[str]) -> list[OfficialSpell]:
        """The official's secondments, for the overlap rule. An official id is its home
        authority's own numbering: only secondments from `home_units` (the home unit and the
        units it succeeded) are the same person; another authority's `official_id` is
        another official, neither blocked by nor shown this one.

        On PostgreSQL a transaction-scoped advisory lock on the official is taken first, so
        two concurrent requests for one official are checked one after the other (SQLite
        serialises writers already with `BEGIN IMMEDIATE`).
        """
        if self.session.bind.dialect.name == "postgresql":
            await self._take_turn(official_id)
        rows = await self.session.execute(
            _SPELLS, {"b_official_id": official_id, "b_home_units": sorted(home_units)}
        )
        return [_spell(r) for r in rows]

    async def _take_turn(self, official_id: str) -> None:
        """The official's advisory lock, once per transaction (PostgreSQL)."""
        if official_id not in self._turns:
            await self.session.execute(_LOCK_OFFICIAL, {"b_key": _official_key(official_id)})
            self._turns.add(official_id)

    async def spells_taking_position(
        self, official_id: str, home_units: Iterable[str], need_id: str
    ) -> tuple[list[OfficialSpell], bool]:
        """`spells` and `take_position` at once: one statement on PostgreSQL (after the
        official's turn, taken apart: the spells' snapshot must follow the lock)."""
        if self.session.bind.dialect.name != "postgresql":
            return await self.spells(official_id, home_units), await self.take_position(need_id)
        await self._take_turn(official_id)
        params = {
            "b_official_id": official_id,
            "b_home_units": sorted(home_units),
            "b_need_id": need_id,
        }
        rows = (await self.session.execute(_SPELLS_TAKING_POSITION, params)).all()
        spells = [_spell(r) for r in rows if r.secondment_id is not None]  # NULLs: none
        return spells, bool(rows and rows[0].took == 1)

    async def release_position(self, need_id: str) -> None:
        """A cancelled secondment gives its position back at once."""
        await self.session.execute(
            update(needs_view)
            .where(needs_view.c.need_id == need_id, needs_view.c.taken > 0)
            .values(taken=needs_view.c.taken - 1)
        )

    async def write_view(self, s: Secondment, body: dict[str, object]) -> None:
        """Keep the secondment's current-state row in step with its events."""
        values = {
            "official_id": s.seconded.official.official_id,
            "need_id": str(s.seconded.need_id),
            "home_unit": s.seconded.official.home_unit.code,
            "host_unit": s.seconded.host_unit.code,
            "start_date": s.seconded.start_date,
            # The last day the official is (or was) away: an early end frees the rest.
            "planned_end_date": s.ended.ended_on if s.ended else s.planned_end_date,
            "status": s.status.value,
            "body": json.dumps(body, ensure_ascii=False),
        }
        await self.write_row(secondments_view, "secondment_id", s.stream_id, values)

    async def list_secondments(
        self,
        *,
        after: int,
        limit: int,
        filters: dict[str, str | None],
        visible_units: frozenset[str] | None = None,
    ) -> list[tuple[int, dict[str, object]]]:
        """(position, body) of secondments after a position, oldest first."""
        v = secondments_view
        query = select(v.c.position, v.c.body).where(v.c.position > after)
        for name, value in filters.items():
            if value:
                query = query.where(v.c[name] == value)
        if visible_units is not None:
            units = sorted(visible_units)
            query = query.where(or_(v.c.home_unit.in_(units), v.c.host_unit.in_(units)))
        rows = await self.session.execute(query.order_by(v.c.position).limit(limit))
        return [(r.position, json.loads(r.body)) for r in rows]

    async def apply_need_events(self, events: Sequence[tuple[int, EventData]]) -> None:
        """Project needs-topic events (version, event) into the needs view, in partition
        order. The new needs of a run of `NeedRaised` go in one statement (each kept as it is
        if already known), not a look-up and an insert each: a fetch of new needs is one
        statement, where it was two per need (docs/performance.md, "5 December 2026")."""
        raised: list[dict[str, object]] = []
        for version, event in events:
            if isinstance(event, NeedRaised):
                raised.append(_raised_row(version, event))
                continue
            if raised:  # before a later event of one of them is applied
                await self._insert_new_needs(raised)
                raised = []
            await self._apply_need_change(version, event)
        if raised:
            await self._insert_new_needs(raised)

    async def _insert_new_needs(self, rows: list[dict[str, object]]) -> None:
        await self.session.execute(_new_needs(self.session.bind.dialect.name), rows)

    async def _apply_need_change(self, version: int, event: EventData) -> None:
        values: dict[str, object]
        match event:
            case NeedAmended():
                values = {
                    k: v
                    for k, v in (
                        ("positions", event.positions),
                        ("min_rank", event.min_rank),
                        ("sector", event.sector),
                    )
                    if v is not None
                }
                if event.host_unit is not None:
                    values |= {
                        "host_unit_code": event.host_unit.code,
                        "host_unit_name": event.host_unit.name,
                    }
            case NeedWithdrawn():
                values = {"status": "WITHDRAWN"}
            case NeedFilled():
                values = {"status": "FILLED"}
            case NeedReopened():
                values = {"status": "OPEN"}
            case _:
                return
        await self.session.execute(
            update(needs_view)
            .where(needs_view.c.need_id == str(event.need_id), needs_view.c.version < version)
            .values(version=version, **values)
        )


@functools.cache
def _new_needs(dialect: str) -> Insert:
    """Needs inserted unless already known (a `NeedRaised` seen again under another event id),
    built once per dialect."""
    insert = insert_on_conflict(dialect, needs_view)
    return insert.on_conflict_do_nothing(index_elements=["need_id"])


def _raised_row(version: int, event: NeedRaised) -> dict[str, object]:
    """A need's first row in the needs view."""
    return {
        "need_id": str(event.need_id),
        "host_unit_code": event.host_unit.code,
        "host_unit_name": event.host_unit.name,
        "sector": event.sector,
        "positions": event.positions,
        "min_rank": event.min_rank,
        "status": "OPEN",
        "taken": 0,
        "version": version,
    }


def _redact(node: object, official_id: str) -> bool:
    """Null the identity of every `official` object of this official, and blank the free text
    of their secondments' steps, wherever they nest (answers remembered in clear)."""
    found = False
    if isinstance(node, dict):
        if node.get("official_id") == official_id and "full_name" in node:
            node.update(full_name=None, birth_date=None, identity_erased=True)
            found = True
        official = node.get("official")
        if isinstance(official, dict) and official.get("official_id") == official_id:
            for name, fields in STEPS.items():
                step = node.get(name)
                if isinstance(step, dict):
                    for k in fields:
                        if isinstance(step.get(k), str):
                            step[k] = UNAVAILABLE_TEXT
                            found = True
        for value in node.values():
            found = _redact(value, official_id) or found
    elif isinstance(node, list):
        for value in node:
            found = _redact(value, official_id) or found
    return found
