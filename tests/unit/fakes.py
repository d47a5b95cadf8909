"""In-memory fakes of the service layers' ports (`shared.seedwork.ports`, each service's
`service_layer/ports.py`), as cosmicpython's unit tests use them: the use cases run, unchanged,
without a database, and a test reads what they committed.

A fake keeps the promise of its port, not only its signature: nothing a unit of work did is
visible until `commit`, leaving without it forgets everything, a stream saved from a stale
version is refused (`ConcurrencyConflict`), and a claimed event id is not handed out again.
"""

import copy
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from pydantic import BaseModel

from services.needs.domain.need import Need
from services.placement.domain.secondment import Secondment
from services.placement.domain.views import NeedSnapshot, OfficialSpell
from shared.contract.envelope import CloudEvent, read_event
from shared.contract.events import EventData, NeedFilled, NeedRaised, NeedReopened, NeedWithdrawn
from shared.contract.topics import NEEDS_SOURCE, PLACEMENT_SOURCE
from shared.seedwork.aggregate import Aggregate
from shared.seedwork.errors import ConcurrencyConflict
from shared.seedwork.ports import RequestContext, pending_envelopes

A = TypeVar("A", bound=Aggregate)


@dataclass
class Store:
    """What a service's database would hold: streams, outbox, claims, its own tables."""

    streams: dict[str, list[CloudEvent]] = field(default_factory=dict)
    outbox: list[CloudEvent] = field(default_factory=list)
    claimed: set[tuple[str, str]] = field(default_factory=set)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: list[BaseModel] = field(default_factory=list)
    commits: int = 0

    def table(self, name: str) -> dict[str, Any]:
        """One of the service's own tables, by key."""
        return self.tables.setdefault(name, {})


class FakeRepository(Generic[A]):
    """Streams of one aggregate type in a unit of work's working copy of the store."""

    def __init__(
        self, work: Store, factory: Callable[[Sequence[EventData]], A], source: str
    ) -> None:
        self._work = work
        self._factory = factory
        self._source = source

    async def get(self, stream_id: str) -> A | None:
        envelopes = self._work.streams.get(stream_id)
        return self._factory([read_event(e) for e in envelopes]) if envelopes else None

    async def get_many(self, stream_ids: Sequence[str]) -> dict[str, A | None]:
        return {stream_id: await self.get(stream_id) for stream_id in stream_ids}

    async def history(self, stream_id: str) -> list[CloudEvent]:
        return list(self._work.streams.get(stream_id, []))

    async def save(self, aggregate: A, ctx: RequestContext) -> list[CloudEvent]:
        start, envelopes = pending_envelopes(aggregate, self._source, ctx)
        stream = self._work.streams.setdefault(aggregate.stream_id, [])
        if len(stream) != start:
            raise ConcurrencyConflict(aggregate.stream_id, start)
        stream.extend(envelopes)
        self._work.outbox.extend(envelopes)
        return envelopes


class FakeUnitOfWork:
    """A transaction on a `Store`: works on a copy, which `commit` makes the store's."""

    work: Store

    shared = False

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __aenter__(self) -> Self:
        self.work = copy.deepcopy(self.store)
        self._started()
        return self

    def _started(self) -> None:
        """Bind repositories to the working copy."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        del self.work  # not committed: forgotten

    async def commit(self, answer: BaseModel | None = None) -> None:
        if answer is not None:
            self.work.answers.append(answer)
        self.work.commits += 1
        self.store.__dict__.update(self.work.__dict__)
        self.work = copy.deepcopy(self.store)
        self._started()

    async def claim_many(self, consumer: str, envelopes: Sequence[CloudEvent]) -> list[CloudEvent]:
        fresh = []
        for envelope in envelopes:
            key = (consumer, str(envelope.id))
            if key not in self.work.claimed:
                self.work.claimed.add(key)
                fresh.append(envelope)
        return fresh


class FakeNeedsUnitOfWork(FakeUnitOfWork):
    """`services.needs.service_layer.ports.NeedsUnitOfWork` in memory."""

    needs: FakeRepository[Need]

    def _started(self) -> None:
        self.needs = FakeRepository(self.work, Need.rehydrate, source=NEEDS_SOURCE)

    def _fills(self) -> dict[str, tuple[str, dt.date]]:
        return self.work.table("need_fills")

    async def get_need(self, need_id: str) -> Need | None:
        need = await self.needs.get(need_id)
        if need is not None:
            need.positions_filled = await self.filled_positions(need_id)
        return need

    async def lock_needs(self, need_ids: Sequence[str]) -> None:
        """One fake transaction at a time: nothing to lock."""

    async def fills(self, need_ids: Sequence[str]) -> dict[str, set[str]]:
        taken: dict[str, set[str]] = {need_id: set() for need_id in need_ids}
        for secondment_id, (need_id, _) in self._fills().items():
            if need_id in taken:
                taken[need_id].add(secondment_id)
        return taken

    async def add_fill(self, need_id: str, secondment_id: str, decided_on: dt.date) -> None:
        self._fills()[secondment_id] = (need_id, decided_on)

    async def filled_positions(self, need_id: str) -> int:
        return sum(1 for fill in self._fills().values() if fill[0] == need_id)

    async def remove_fill(self, need_id: str, secondment_id: str) -> None:
        self._fills().pop(secondment_id, None)

    async def write_view(self, need: Need, body: dict[str, object]) -> None:
        self.work.table("needs_view")[need.stream_id] = body

    async def list_needs(
        self,
        *,
        after: int,
        limit: int,
        status: str | None,
        sector: str | None,
        host_unit: str | None,
        visible_hosts: frozenset[str] | None = None,
    ) -> list[tuple[int, dict[str, object]]]:
        rows = list(enumerate(self.work.table("needs_view").values(), start=1))
        wanted = {"status": status, "sector": sector}
        out = []
        for position, body in rows:
            host = body["host_unit"]["code"]
            if position <= after or (host_unit and host != host_unit):
                continue
            if visible_hosts is not None and host not in visible_hosts:
                continue
            if any(value and body[name] != value for name, value in wanted.items()):
                continue
            out.append((position, body))
        return out[:limit]


class FakeKeys:
    """`services.placement.service_layer.ports.OfficialKeys`: which officials were erased."""

    def __init__(self) -> None:
        self.erased: list[str] = []

    async def erase(self, official_id: str) -> bool:
        first = official_id not in self.erased
        self.erased.append(official_id)
        return first


class FakePlacementUnitOfWork(FakeUnitOfWork):
    """`services.placement.service_layer.ports.PlacementUnitOfWork` in memory. The needs it
    knows are rows of `needs` (as the needs topic would have brought them)."""

    secondments: FakeRepository[Secondment]

    def __init__(self, store: Store, keys: FakeKeys | None = None) -> None:
        super().__init__(store)
        self._keys = keys or FakeKeys()

    def _started(self) -> None:
        self.secondments = FakeRepository(self.work, Secondment.rehydrate, PLACEMENT_SOURCE)

    @property
    def vault(self) -> FakeKeys:
        return self._keys

    async def need(self, need_id: str, *, lock_official: str | None = None) -> NeedSnapshot | None:
        row = self.work.table("needs").get(need_id)
        return NeedSnapshot(**row) if row is not None else None

    async def take_position(self, need_id: str) -> bool:
        row = self.work.table("needs")[need_id]
        if row["taken"] >= row["positions"]:
            return False
        row["taken"] += 1
        return True

    async def release_position(self, need_id: str) -> None:
        self.work.table("needs")[need_id]["taken"] -= 1

    async def spells_taking_position(
        self, official_id: str, home_units: Iterable[str], need_id: str
    ) -> tuple[list[OfficialSpell], bool]:
        spells = await self.spells(official_id, home_units)
        return spells, await self.take_position(need_id)

    async def spells(self, official_id: str, home_units: Iterable[str]) -> list[OfficialSpell]:
        units = set(home_units)
        return [
            OfficialSpell(sid, row["start_date"], row["end_date"], row["status"] != "CANCELLED")
            for sid, row in self.work.table("secondments_view").items()
            if row["official_id"] == official_id and row["home_unit"] in units
        ]

    async def write_view(self, s: Secondment, body: dict[str, object]) -> None:
        self.work.table("secondments_view")[s.stream_id] = {
            "official_id": s.seconded.official.official_id,
            "home_unit": s.seconded.official.home_unit.code,
            "host_unit": s.seconded.host_unit.code,
            "start_date": s.seconded.start_date,
            "end_date": s.ended.ended_on if s.ended else s.planned_end_date,
            "status": s.status.value,
            "body": body,
        }

    async def list_secondments(
        self,
        *,
        after: int,
        limit: int,
        filters: dict[str, str | None],
        visible_units: frozenset[str] | None = None,
    ) -> list[tuple[int, dict[str, object]]]:
        rows = enumerate(self.work.table("secondments_view").values(), start=1)
        return [
            (position, row["body"])
            for position, row in rows
            if position > after
            and all(not value or row.get(name) == value for name, value in filters.items())
            and (visible_units is None or {row["home_unit"], row["host_unit"]} & visible_units)
        ][:limit]

    async def apply_need_events(self, events: Sequence[tuple[int, EventData]]) -> None:
        for version, event in events:
            self._apply_need_event(version, event)

    def _apply_need_event(self, version: int, event: EventData) -> None:
        needs = self.work.table("needs")
        if isinstance(event, NeedRaised):
            needs.setdefault(
                str(event.need_id),
                {
                    "need_id": str(event.need_id),
                    "host_unit": event.host_unit,
                    "sector": event.sector,
                    "positions": event.positions,
                    "min_rank": event.min_rank,
                    "status": "OPEN",
                    "taken": 0,
                },
            )
            return
        status = {NeedWithdrawn: "WITHDRAWN", NeedFilled: "FILLED", NeedReopened: "OPEN"}
        row = needs.get(str(getattr(event, "need_id", "")))
        if row is not None and type(event) in status:
            row["status"] = status[type(event)]

    async def redact_answers(self, official_id: str) -> int:
        return 0
