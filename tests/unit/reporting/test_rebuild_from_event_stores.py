"""`python -m services.reporting rebuild --event-stores DIR` (the embedded default): replays
the needs and placement event stores into fresh tables, swaps them in, prints a progress bar
and the final count; the result equals what the live projection built."""

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from services.reporting.__main__ import run_rebuild
from services.reporting.adapters.tables import LIVE
from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from services.reporting.service_layer.projections import project_batch
from shared.contract.envelope import CloudEvent
from shared.infra.db import make_engine
from shared.infra.schema import define_core_tables
from shared.infra.transport import InProcessBus
from tests.bench.generator import generate


async def _event_store(url: str, messages: list[bytes]) -> None:
    md = MetaData()
    events = define_core_tables(md).events
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
        await conn.execute(
            events.insert(),
            [
                {
                    "stream_id": e["subject"],
                    "version": e["aggregateversion"],
                    "event_id": e["id"],
                    "event_type": e["type"],
                    "envelope": raw.decode(),
                    "recorded_at": dt.datetime.fromisoformat(e["time"]),
                }
                for raw in messages
                for e in [json.loads(raw)]
            ],
        )
    await engine.dispose()


async def _dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = make_engine(url)
    out = {}
    async with engine.connect() as conn:
        for table in LIVE.all():
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(r) for r in rows]
    await engine.dispose()
    return out


async def test_the_rebuild_command_replays_the_event_stores_and_swaps_in_equal_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generated = generate(5, needs=120)
    needs = [m for t, _, m in generated.messages if t.endswith("needs.v1")]
    placements = [m for t, _, m in generated.messages if t.endswith("placements.v1")]
    url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    await _event_store(f"sqlite+aiosqlite:///{tmp_path / 'needs.db'}", needs)
    await _event_store(f"sqlite+aiosqlite:///{tmp_path / 'placement.db'}", placements)
    service = ReportingService(ReportingSettings(database_url=url), InProcessBus())
    await service.migrate()
    await project_batch([CloudEvent.from_json(m) for m in needs + placements], service.ports.uow())
    await service.stop()
    live = await _dump(url)
    count = await run_rebuild(ReportingSettings(), tmp_path)
    assert count == len(generated.messages)
    assert await _dump(url) == live
    err = capsys.readouterr().err
    assert f"{len(generated.messages):,}/{len(generated.messages):,} events" in err
    assert f"Rebuilt the read models from {len(generated.messages):,} events" in err
