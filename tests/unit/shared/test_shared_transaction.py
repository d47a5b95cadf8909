"""Units of work joining one shared transaction (a fetch of Kafka commands): each sees what
the ones before it wrote though their inserts are held back until the shared commit, and a
conflict between two of them fails the whole transaction."""

import contextlib
import copy
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.needs.adapters.tables import core
from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from services.needs.domain.commands import AmendNeed, RaiseNeed
from services.needs.domain.need import Need
from services.needs.service_layer import handlers
from shared.authz import kafka_principal
from shared.clock import today
from shared.infra.transport import InProcessBus
from shared.infra.uow import SharedTransaction, sharing
from shared.seedwork.errors import ConcurrencyConflict
from shared.seedwork.ports import RequestContext
from tests.samples import need_body

CTX = RequestContext("SO_Y_TE/kafka", "corr", "cause", dt.datetime.now(dt.UTC))


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[NeedsService]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'needs.db'}"
    service = NeedsService(NeedsSettings(database_url=url), InProcessBus())
    await service.migrate()
    try:
        yield service
    finally:
        await service.runtime.engine.dispose()


async def _events(service: NeedsService) -> int:
    async with service.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(core.events)) or 0)


async def test_a_later_unit_of_work_reads_what_an_earlier_one_held_back(
    service: NeedsService,
) -> None:
    ports, who = service.ports, kafka_principal("SO_Y_TE")
    shared = SharedTransaction(service.runtime.sessions)
    await shared.session.begin()
    try:
        with sharing(shared):
            raised = await handlers.raise_need(
                who, RaiseNeed(**need_body()), ports.uow(), CTX, today(), ports.phases
            )
            amended = await handlers.amend_need(
                who,
                str(raised.need_id),
                AmendNeed(positions=5),
                ports.uow(),
                CTX,
                today(),
                ports.phases,
            )
        await shared.commit()
    finally:
        await shared.close()

    assert amended.positions == 5
    assert await _events(service) == 2
    view = await handlers.get_need(who, str(raised.need_id), ports.uow())
    assert view.positions == 5


async def test_two_units_of_work_appending_the_same_version_fail_the_shared_commit(
    service: NeedsService,
) -> None:
    shared = SharedTransaction(service.runtime.sessions)
    await shared.session.begin()
    need = Need.raise_need(RaiseNeed(**need_body()), today(), service.ports.phases)
    try:
        with sharing(shared):
            for _ in range(2):  # as two replicas' commands would, both from version 0
                async with service.ports.uow() as uow:
                    await uow.needs.save(copy.deepcopy(need), CTX)
                    await uow.commit()
        with pytest.raises(ConcurrencyConflict):  # the event store's meaning of the violation
            await shared.commit()
    finally:
        await shared.close()

    assert await _events(service) == 0


async def test_held_rows_lost_to_a_caught_error_stop_the_commit(service: NeedsService) -> None:
    """A handler that catches a database error (as a savepoint pattern does) must not let the
    shared transaction commit without the rows that went down with it."""
    shared = SharedTransaction(service.runtime.sessions)
    await shared.session.begin()
    need = Need.raise_need(RaiseNeed(**need_body()), today(), service.ports.phases)
    try:
        with sharing(shared):
            for _ in range(2):
                async with service.ports.uow() as uow:
                    await uow.needs.save(copy.deepcopy(need), CTX)
            with contextlib.suppress(ConcurrencyConflict):  # the held twins meet at a read
                await shared.session.execute(select(func.count()).select_from(core.events))
        with pytest.raises(RuntimeError, match="cannot commit"):
            await shared.commit()
    finally:
        await shared.close()

    assert await _events(service) == 0


async def test_rows_held_when_a_savepoint_begins_stop_the_commit(service: NeedsService) -> None:
    """Written inside the savepoint, a rolled-back savepoint would take them with it."""
    shared = SharedTransaction(service.runtime.sessions)
    await shared.session.begin()
    need = Need.raise_need(RaiseNeed(**need_body()), today(), service.ports.phases)
    try:
        with sharing(shared):
            async with service.ports.uow() as uow:
                await uow.needs.save(need, CTX)
                with pytest.raises(RuntimeError, match="savepoint"):
                    async with shared.session.begin_nested():  # the unit of work's session
                        await shared.session.execute(select(func.count()).select_from(core.events))
        with pytest.raises(RuntimeError, match="cannot commit"):
            await shared.commit()
    finally:
        await shared.close()

    assert await _events(service) == 0
