"""The needs service counts a fetch of placement events on its database (SQLite here,
PostgreSQL in the end-to-end tests): the needs the fetch touches are loaded in one statement,
not one each, and each is counted as before (a need filled by its last position)."""

from pathlib import Path
from uuid import uuid4

from services.embedded.app import create_embedded_app
from services.needs.bootstrap import NeedsService
from services.needs.domain.commands import RaiseNeed
from services.needs.domain.need import NeedStatus
from services.needs.service_layer import handlers
from tests.samples import need_body
from tests.statements import statements_sent
from tests.unit.needs.test_use_cases import HEALTH, TODAY, ctx, placement_event


async def test_a_fetch_touching_many_needs_loads_them_in_one_statement(tmp_path: Path) -> None:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        service = next(s for s in app.state.services if isinstance(s, NeedsService))
        ports = service.ports
        needs = []
        for _ in range(8):
            cmd = RaiseNeed.model_validate(need_body(positions=2))
            view = await handlers.raise_need(HEALTH, cmd, ports.uow(), ctx(), TODAY, ports.phases)
            needs.append(str(view.need_id))
        fetch = [placement_event("OfficerSeconded", n, uuid4()) for n in needs]
        fetch.append(placement_event("OfficerSeconded", needs[0], uuid4()))  # its last position

        with statements_sent(service.runtime.engine) as statements:
            await handlers.on_placement_events(fetch, ports.uow())
        loads = [s for s in statements if s.startswith("SELECT") and "FROM event_store" in s]

        assert len(loads) == 1
        async with ports.uow() as uow:
            counted = await uow.needs.get_many(needs)
            fills = await uow.fills(needs)
        assert {n: len(fills.get(n, ())) for n in needs} == {
            n: 2 if n == needs[0] else 1 for n in needs
        }
        assert {n: need.status for n, need in counted.items() if need} == {
            n: NeedStatus.FILLED if n == needs[0] else NeedStatus.OPEN for n in needs
        }
