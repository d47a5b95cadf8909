"""The placement service learns a fetch of needs-topic events on its database (SQLite here,
PostgreSQL in every end-to-end test): the new needs of a fetch go in one statement, not a
look-up and an insert each, and what follows them still applies in partition order."""

from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import select

from services.embedded.app import create_embedded_app
from services.placement.adapters.tables import needs_view
from services.placement.bootstrap import PlacementService
from services.placement.service_layer import handlers
from shared.contract.envelope import CloudEvent
from shared.contract.examples import example_envelope
from tests.statements import statements_sent


def _envelope(kind: str, need_id: str, version: int, **data: Any) -> CloudEvent:
    body = example_envelope(kind)
    body["id"] = str(uuid4())
    body["subject"] = need_id
    body["aggregateversion"] = version
    body["data"] |= {"need_id": need_id, **data}
    return CloudEvent.model_validate(body)


async def test_a_fetch_of_new_needs_is_one_insert_and_later_events_apply_in_order(
    tmp_path: Path,
) -> None:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        placement = next(s for s in app.state.services if isinstance(s, PlacementService))
        needs = [str(uuid4()) for _ in range(30)]
        fetch = [_envelope("NeedRaised", n, 1, positions=2) for n in needs]
        fetch += [
            _envelope("NeedAmended", needs[3], 2, positions=5),
            _envelope("NeedWithdrawn", needs[7], 2),
            _envelope("NeedRaised", needs[10], 1, positions=9),  # seen again, new id
        ]
        with statements_sent(placement.runtime.engine) as statements:
            await handlers.on_need_events(fetch, placement.ports.uow())
        sent = [
            s.split()[0] for s in statements if "needs_view" in s and not s.startswith("SELECT")
        ]

        assert sent == ["INSERT", "UPDATE", "UPDATE", "INSERT"]
        async with placement.runtime.sessions() as session:
            rows = {r.need_id: r for r in await session.execute(select(needs_view))}
        assert set(rows) == set(needs)
        assert (rows[needs[3]].positions, rows[needs[3]].version) == (5, 2)
        assert rows[needs[7]].status == "WITHDRAWN"
        assert rows[needs[10]].positions == 2  # the first NeedRaised stands
        assert all(rows[n].status == "OPEN" and rows[n].taken == 0 for n in needs if n != needs[7])
