"""A consumer claims a fetch of events in one statement on PostgreSQL (`PG_CLAIM`): the new
ones come back in order, a redelivered one is left out, and one redelivered with another
payload (a producer's bug, not a retry) is refused. The same on every service's consumers."""

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest

from services.needs.bootstrap import NeedsService
from shared.contract.envelope import CloudEvent
from shared.contract.examples import example_envelope
from shared.infra.uow import ConflictingDuplicate
from tests.integration.system import needs_service
from tests.statements import statements_sent

pytestmark = pytest.mark.integration


@pytest.fixture
async def service(pg_dsn: str) -> AsyncIterator[NeedsService]:
    async with needs_service(pg_dsn) as running:
        yield running


def _event(**changes: object) -> CloudEvent:
    body = example_envelope("OfficerSeconded") | {"id": str(uuid.uuid4())}
    return CloudEvent.model_validate(body).model_copy(update=changes)


async def test_a_fetch_is_claimed_once_in_one_statement(service: NeedsService) -> None:
    first, second = _event(), _event()
    with statements_sent(service.runtime.engine) as sent:
        async with service.ports.uow() as uow:
            assert await uow.claim_many("test", [first]) == [first]
            await uow.commit()
    assert sum("processed_events" in s for s in sent) == 1

    async with service.ports.uow() as uow:
        assert await uow.claim_many("test", [first, second, second]) == [second]
        await uow.commit()
    async with service.ports.uow() as uow:
        assert await uow.claim_many("another consumer", [first]) == [first]

    changed = first.model_copy(update={"time": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)})
    async with service.ports.uow() as uow:
        with pytest.raises(ConflictingDuplicate):
            await uow.claim_many("test", [changed])
