"""Two replicas of the needs service consume the placements topic, partitioned by secondment:
one cancellation and another secondment to the same need can be processed at the same moment.
Found by the fault suite (two replicas): each transaction counted the need's positions
without seeing the other's uncommitted change, one of them filled the need, the other
changed nothing it could conflict on, and the need stayed filled with a position free
(reporting counted one need filled too many)."""

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from services.needs.adapters.unit_of_work import SqlNeedsUnitOfWork
from services.needs.domain.commands import RaiseNeed
from services.needs.domain.need import Need
from services.needs.service_layer import handlers
from shared.contract.envelope import CloudEvent
from shared.contract.topics import PLACEMENT_SOURCE
from shared.seedwork.ports import RequestContext
from tests.integration.system import needs_service
from tests.samples import need_body, official_body

pytestmark = pytest.mark.integration


def _placement_event(kind: str, secondment_id: str, need_id: str, version: int) -> CloudEvent:
    data: dict[str, Any] = {"secondment_id": secondment_id, "need_id": need_id}
    if kind == "OfficerSeconded":
        data |= {
            "official": official_body(
                official_id=f"OFF-{secondment_id[:8]}",
                home_unit={"code": "NAM_GIANG", "name": "Huyện Nam Giang"},
            ),
            "host_unit": {"code": "SO_Y_TE", "name": "Sở Y tế"},
            "sector": "HEALTH",
            "start_date": "2024-09-01",
            "planned_end_date": "2025-02-28",
            "decision": {"number": "1/QĐ-UBND", "date": "2024-08-20"},
        }
    else:
        data |= {"reason": "Nhập nhầm", "cancelled_on": "2024-08-25"}
    return CloudEvent.model_validate(
        {
            "id": str(uuid.uuid4()),
            "source": PLACEMENT_SOURCE,
            "type": kind,
            "subject": secondment_id,
            "time": "2024-08-25T00:00:00Z",
            "data": data,
            "aggregateversion": version,
            "correlationid": "c",
            "causationid": "c",
            "actor": "test",
        }
    )


async def test_a_cancellation_and_another_secondment_at_once_leave_the_need_as_counted(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with needs_service(pg_dsn) as service:
        need = Need.raise_need(
            RaiseNeed.model_validate(need_body(positions=2)), dt.date(2024, 8, 1)
        )
        ctx = RequestContext("test", "c", "c", dt.datetime.now(dt.UTC))
        async with service.ports.uow() as uow:
            await uow.needs.save(need, ctx)
            await uow.write_view(need, {})
            await uow.commit()
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        need_id = need.stream_id
        await handlers.on_placement_event(
            _placement_event("OfficerSeconded", first, need_id, 1), service.ports.uow()
        )

        # Both transactions count the positions before either commits (unless one waits for the
        # other: then the rendezvous gives up after a second and they run one after the other).
        counted = 0
        both_counted = asyncio.Event()
        real_count = SqlNeedsUnitOfWork.fills

        async def count_then_meet(
            self: SqlNeedsUnitOfWork, needs: Sequence[str]
        ) -> dict[str, set[str]]:
            nonlocal counted
            taken = await real_count(self, needs)
            counted += 1
            if counted == 2:
                both_counted.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(both_counted.wait(), 1.0)
            return taken

        monkeypatch.setattr(SqlNeedsUnitOfWork, "fills", count_then_meet)
        await asyncio.gather(
            handlers.on_placement_event(
                _placement_event("SecondmentCancelled", first, need_id, 2), service.ports.uow()
            ),
            handlers.on_placement_event(
                _placement_event("OfficerSeconded", second, need_id, 1), service.ports.uow()
            ),
        )
        monkeypatch.setattr(SqlNeedsUnitOfWork, "fills", real_count)

        async with service.ports.uow() as check:
            after = await check.get_need(need_id)
            history = await check.needs.history(need_id)
        assert after is not None
        assert after.positions_filled == 1
        assert after.status.value == "OPEN", [e.type for e in history]
