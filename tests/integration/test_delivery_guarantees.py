"""Nothing lost, nothing counted twice: a consumer that dies between its database commit
and its offset commit, and two writers racing on one aggregate."""

import asyncio
import datetime as dt
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from services.needs.bootstrap import NeedsService
from services.needs.domain.commands import RaiseNeed
from services.needs.domain.need import Need
from services.needs.service_layer.ports import NeedsUnitOfWork
from services.reporting.adapters.tables import core as reporting_core
from services.reporting.adapters.tables import rm_needs
from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from shared.contract.envelope import CloudEvent
from shared.infra.db import make_engine, make_sessions
from shared.infra.kafka import KafkaTransport
from shared.infra.transport import InProcessBus
from shared.seedwork.errors import ConcurrencyConflict
from shared.seedwork.ports import RequestContext
from tests import auth
from tests.integration.crashing_reporting import CRASH_EXIT_CODE
from tests.integration.system import (
    eventually,
    needs_app,
    new_deployment,
    reporting_app,
    running,
)
from tests.samples import need_body

pytestmark = pytest.mark.integration


async def test_an_event_redelivered_after_a_crash_between_db_commit_and_offset_commit_counts_once(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with running(needs_app(d)) as needs:
        raised = await needs.post("/api/needs", json=need_body(), headers=auth.host())
        assert raised.status_code == 201

        env = os.environ | {
            "REPORTING_DATABASE_URL": d.reporting_db,
            "REPORTING_KAFKA_BOOTSTRAP": d.bootstrap,
            "REPORTING_TOPIC_PREFIX": d.prefix,
        }
        crashed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tests.integration.crashing_reporting"],
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr.decode()[-2000:]

    engine = make_engine(d.reporting_db)
    sessions = make_sessions(engine)

    async def needs_counted() -> int:
        async with sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(rm_needs)) or 0)

    async def processed() -> int:
        async with sessions() as s:
            t = reporting_core.processed
            return int(await s.scalar(select(func.count()).select_from(t)) or 0)

    # The crashed process committed its projection: the need is counted once already.
    assert await needs_counted() == 1
    assert await processed() == 1

    # A healthy reporting process in the same consumer group gets the event again,
    # because its offset was never committed, and changes nothing.
    service = CountingReporting(d.reporting_settings(), KafkaTransport(d.bootstrap, "reporting"))
    async with running(reporting_app(d, service)) as reporting:
        await eventually(lambda: asyncio.sleep(0, service.deliveries), lambda seen: len(seen) >= 1)
        evaluation = await reporting.get(
            "/api/reports/phases/2024-2025/evaluation",
            params={"as_of": "2025-12-31"},
            headers=auth.reader(),
        )
    assert len(service.deliveries) == 1, "the event must have been redelivered"
    assert evaluation.json()["needs"]["raised"] == 1
    assert await needs_counted() == 1
    assert await processed() == 1
    await engine.dispose()


class CountingReporting(ReportingService):
    """The real reporting service, counting what Kafka delivers to it."""

    def __init__(self, settings: ReportingSettings, transport: KafkaTransport) -> None:
        self.deliveries: list[CloudEvent] = []
        super().__init__(settings, transport)

    async def on_event(self, envelope: CloudEvent) -> None:
        self.deliveries.append(envelope)
        await super().on_event(envelope)


async def test_two_writers_to_one_need_end_with_one_success_and_one_conflict(pg_dsn: str) -> None:
    d = await new_deployment("unused:9092", pg_dsn)
    service = NeedsService(d.needs_settings(), InProcessBus())
    await service.migrate()
    need = Need.raise_need(RaiseNeed.model_validate(need_body(positions=1)), dt.date(2024, 8, 1))
    ctx = RequestContext("test", "c", "c", dt.datetime.now(dt.UTC))
    uow = service.ports.uow()
    async with uow:
        await uow.needs.save(need, ctx)
        await uow.commit()

    both_loaded = asyncio.Barrier(2)

    async def fill(uow: NeedsUnitOfWork) -> str:
        async with uow:
            loaded = await uow.needs.get(need.stream_id)
            assert loaded is not None
            await both_loaded.wait()
            loaded.record_filled_positions(1, dt.date(2024, 9, 1))
            try:
                await uow.needs.save(loaded, ctx)
                await uow.commit()
            except ConcurrencyConflict:
                return "conflict"
            return "saved"

    outcomes = await asyncio.gather(fill(service.ports.uow()), fill(service.ports.uow()))
    assert sorted(outcomes) == ["conflict", "saved"]
    async with service.ports.uow() as check:
        history = await check.needs.history(need.stream_id)
    assert [e.type for e in history] == ["NeedRaised", "NeedFilled"]
    await service.stop()
