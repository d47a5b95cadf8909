"""Upcasters turn an older version of an event into the current one when it is read: from an
envelope (`read_event`, what consumers use), from `parse_data` given the envelope's version,
and from an event store (what aggregates are rebuilt from).

No event of contract v1 has an older version yet, so these tests use their own registry with
a fictional v0 of `NeedRaised` that had no `description`.
"""

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import MetaData, insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from shared.contract.envelope import CloudEvent, read_event
from shared.contract.events import EVENT_TYPES, EventData, NeedRaised, parse_data
from shared.contract.upcasting import UPCASTERS, UnreadableVersion, UpcasterRegistry
from shared.infra.db import make_engine
from shared.infra.eventstore import AggregateRepository, EventStore
from shared.infra.schema import CoreTables, define_core_tables
from shared.seedwork.aggregate import Aggregate

NEED_ID = UUID("5b0f8a52-7a3e-4d8c-9a4e-2f6f3b1c0d11")
NOW = dt.datetime(2024, 8, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))

V0_NEED_RAISED: dict[str, Any] = {
    "need_id": str(NEED_ID),
    "host_unit": {"code": "SO_Y_TE", "name": "Sở Y tế"},
    "sector": "HEALTH",
    "position_title": "Phó Trưởng phòng Nghiệp vụ Y",
    "positions": 2,
    "min_rank": "PHO_TRUONG_PHONG",
    "desired_start": "2024-09-01",
    "duration_months": 6,
    "raised_on": "2024-08-01",
}
"""A `NeedRaised` as the fictional version 0 wrote it: no `description` yet."""


class Calls:
    """Records which upcasters ran, so tests see the upcaster did the work."""

    def __init__(self) -> None:
        self.log: list[str] = []


def v0_registry(calls: Calls) -> UpcasterRegistry:
    """NeedRaised v0 → v1: the description field arrived, empty for older needs."""
    registry = UpcasterRegistry()

    @registry.register("NeedRaised", 0)
    def need_raised_v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
        calls.log.append("NeedRaised v0→v1")
        assert "description" not in data
        data["description"] = ""
        return data

    return registry


def envelope(data: dict[str, Any], *, dataversion: int | None, version: int = 1) -> CloudEvent:
    """An envelope as stored, with or without the `dataversion` attribute."""
    raw: dict[str, Any] = {
        "id": str(uuid4()),
        "source": "/services/needs",
        "type": "NeedRaised",
        "subject": str(NEED_ID),
        "time": NOW.isoformat(),
        "data": data,
        "aggregateversion": version,
        "correlationid": "c-1",
        "causationid": "c-1",
        "actor": "SO_Y_TE",
    }
    if dataversion is not None:
        raw["dataversion"] = dataversion
    return CloudEvent.model_validate(raw)


def expected_current() -> NeedRaised:
    return NeedRaised.model_validate(V0_NEED_RAISED | {"description": ""})


def test_a_v0_need_raised_is_read_as_the_current_model() -> None:
    calls = Calls()
    event = read_event(envelope(V0_NEED_RAISED, dataversion=0), v0_registry(calls))
    assert event == expected_current()
    assert calls.log == ["NeedRaised v0→v1"]


def test_parse_data_upcasts_from_the_version_it_is_given() -> None:
    calls = Calls()
    event = parse_data("NeedRaised", V0_NEED_RAISED, 0, upcasters=v0_registry(calls))
    assert event == expected_current()
    assert calls.log == ["NeedRaised v0→v1"]


def test_the_stored_data_is_not_changed_by_upcasting() -> None:
    old = envelope(V0_NEED_RAISED, dataversion=0)
    read_event(old, v0_registry(Calls()))
    assert "description" not in old.data


def test_an_envelope_without_dataversion_is_version_1_and_needs_no_upcaster() -> None:
    calls = Calls()
    current = V0_NEED_RAISED | {"description": "Tăng cường"}
    old = envelope(current, dataversion=None)
    assert old.dataversion == 1
    assert read_event(old, v0_registry(calls)) == NeedRaised.model_validate(current)
    assert calls.log == []


def test_version_1_is_written_as_an_absent_attribute_so_old_envelopes_keep_their_bytes() -> None:
    first = envelope(V0_NEED_RAISED, dataversion=None)
    assert b"dataversion" not in first.to_json()
    assert CloudEvent.from_json(first.to_json()) == first
    older = envelope(V0_NEED_RAISED, dataversion=0)
    assert b'"dataversion":0' in older.to_json()
    assert CloudEvent.from_json(older.to_json()).dataversion == 0


def test_a_version_newer_than_the_reader_is_unreadable_and_dead_lettered_like_a_bad_type() -> None:
    with pytest.raises(UnreadableVersion, match="newer") as caught:
        read_event(envelope(V0_NEED_RAISED, dataversion=2), v0_registry(Calls()))
    assert isinstance(caught.value, KeyError)  # the transports dead-letter KeyErrors at once


def test_a_missing_upcaster_step_is_unreadable() -> None:
    with pytest.raises(UnreadableVersion, match="no upcaster turns NeedRaised v0"):
        read_event(envelope(V0_NEED_RAISED, dataversion=0), UpcasterRegistry())


def test_upcasters_chain_one_version_at_a_time() -> None:
    registry = UpcasterRegistry()
    registry.add("Ping", 1, lambda d: d | {"steps": [*d["steps"], "1→2"]})
    registry.add("Ping", 2, lambda d: d | {"steps": [*d["steps"], "2→3"]})
    registry.add("Ping", 3, lambda d: d | {"steps": [*d["steps"], "3→4"]})
    assert registry.upcast("Ping", {"steps": []}, 1, 4) == {"steps": ["1→2", "2→3", "3→4"]}
    assert registry.upcast("Ping", {"steps": []}, 3, 4) == {"steps": ["3→4"]}


def test_one_step_cannot_be_registered_twice() -> None:
    registry = UpcasterRegistry()
    registry.add("Ping", 1, dict)
    with pytest.raises(ValueError, match="already registered"):
        registry.add("Ping", 1, dict)


def test_every_version_of_every_current_event_since_v1_can_be_upcast() -> None:
    """The production registry: a model at version n needs upcasters from 1 to n - 1."""
    for name, model in EVENT_TYPES.items():
        for version in range(1, model.schema_version):
            assert UPCASTERS.has(name, version), f"no upcaster of {name} v{version}"


# The event store: an old envelope loaded from a stream is read as the current model.


class Recorder(Aggregate):
    """An aggregate that keeps the events it was rebuilt from."""

    seen: list[EventData]

    @property
    def stream_id(self) -> str:
        return str(NEED_ID)

    def apply(self, event: EventData) -> None:
        if not hasattr(self, "seen"):
            self.seen = []
        self.seen.append(event)


@pytest.fixture
async def store_engine(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, CoreTables]]:
    metadata = MetaData()
    tables = define_core_tables(metadata)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine, tables
    await engine.dispose()


async def test_an_event_store_load_of_an_old_version_envelope_yields_the_current_model(
    store_engine: tuple[AsyncEngine, CoreTables],
) -> None:
    engine, tables = store_engine
    old = envelope(V0_NEED_RAISED, dataversion=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions.begin() as session:
        # Written as a v0 producer wrote it, before `description` existed.
        await session.execute(
            insert(tables.events).values(
                stream_id=str(NEED_ID),
                version=1,
                event_id=str(old.id),
                event_type="NeedRaised",
                envelope=old.to_json().decode(),
                recorded_at=NOW,
            )
        )
    calls = Calls()
    registry = v0_registry(calls)
    async with sessions() as session:
        store = EventStore(session, tables, topic_prefix="")
        loaded = await store.load(str(NEED_ID))
        assert [e.dataversion for e in loaded] == [0]
        assert [read_event(e, registry) for e in loaded] == [expected_current()]
        repository = AggregateRepository(
            store, Recorder.rehydrate, source="/services/needs", upcasters=registry
        )
        need = await repository.get(str(NEED_ID))
        assert need is not None
        assert need.seen == [expected_current()]
        assert need.version == 1
    assert calls.log == ["NeedRaised v0→v1", "NeedRaised v0→v1"]


def test_to_json_writes_the_bytes_model_dump_json_wrote() -> None:
    """Digests in consumers' claims were taken of `model_dump_json()`: the direct serializer
    must give the same bytes, with and without the optional attributes."""
    plain = envelope(V0_NEED_RAISED | {"description": "Tăng cường"}, dataversion=None)
    traced = plain.model_copy(
        update={
            "dataversion": 0,
            "personaldata": "sealed-v1",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        }
    )
    for e in (plain, traced):
        assert e.to_json() == e.model_dump_json().encode()
        assert CloudEvent.from_json(e.to_json()) == CloudEvent.model_validate_json(e.to_json())
