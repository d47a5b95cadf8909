"""The needs service's use cases on in-memory fakes of their ports (`tests/unit/fakes.py`):
what a department sees happen — events published, positions counted, refusals changing
nothing — without a database or a broker."""

import datetime as dt
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.needs.domain.commands import AmendNeed, RaiseNeed, WithdrawNeed
from services.needs.domain.need import NeedStatus
from services.needs.service_layer import handlers
from services.needs.service_layer.ports import NeedsPorts
from shared.authz import Forbidden, Principal, Scope
from shared.contract.envelope import CloudEvent
from shared.contract.examples import example_envelope
from shared.contract.rules import RuleCode
from shared.phases import DEFAULT_PHASES
from shared.seedwork.errors import DomainError
from shared.seedwork.ports import RequestContext
from tests.samples import need_body
from tests.unit.fakes import FakeNeedsUnitOfWork, Store

TODAY = dt.date(2024, 8, 5)
HEALTH = Principal(agency="SO_Y_TE", scopes=frozenset({Scope.NEEDS_WRITE.value}), subject="u1")
EDUCATION = Principal(agency="SO_GD_DT", scopes=frozenset({Scope.NEEDS_WRITE.value}), subject="u2")


def ctx() -> RequestContext:
    return RequestContext("u1", "req-1", "req-1", dt.datetime(2024, 8, 5, 9, tzinfo=dt.UTC))


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def ports(store: Store) -> NeedsPorts:
    """Typed as the service's ports: mypy checks the fake keeps the protocol."""
    return NeedsPorts(uow=lambda: FakeNeedsUnitOfWork(store), phases=DEFAULT_PHASES)


async def raise_one(ports: NeedsPorts, **changes: Any) -> str:
    cmd = RaiseNeed.model_validate(need_body(**changes))
    view = await handlers.raise_need(HEALTH, cmd, ports.uow(), ctx(), TODAY, ports.phases)
    return str(view.need_id)


def placement_event(kind: str, need_id: str, secondment_id: UUID, **data: Any) -> CloudEvent:
    body = example_envelope(kind)
    body["id"] = str(uuid4())
    body["subject"] = str(secondment_id)
    body["data"] |= {"need_id": need_id, "secondment_id": str(secondment_id)} | data
    return CloudEvent.model_validate(body)


def recorded(minutes: int, event: CloudEvent) -> CloudEvent:
    """The event as recorded `minutes` into a morning (a fetch merges secondments by it)."""
    at = dt.datetime(2024, 8, 20, 9, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
    return event.model_copy(update={"time": at})


async def test_raising_a_need_commits_its_event_to_the_outbox_and_its_answer(
    ports: NeedsPorts, store: Store
) -> None:
    need_id = await raise_one(ports)
    [event] = store.outbox
    assert (event.type, event.subject, event.aggregateversion) == ("NeedRaised", need_id, 1)
    assert store.table("needs_view")[need_id]["status"] == NeedStatus.OPEN.value
    [answer] = store.answers  # remembered in the same transaction (idempotency)
    assert str(getattr(answer, "need_id", "")) == need_id


async def test_a_refused_command_changes_nothing(ports: NeedsPorts, store: Store) -> None:
    need_id = await raise_one(ports)
    before = (len(store.outbox), store.commits)
    cmd = AmendNeed(positions=3)
    with pytest.raises(Forbidden):  # another department's need
        await handlers.amend_need(EDUCATION, need_id, cmd, ports.uow(), ctx(), TODAY, [])
    with pytest.raises(DomainError) as refused:
        await handlers.amend_need(
            HEALTH, need_id, AmendNeed(duration_months=7), ports.uow(), ctx(), TODAY, ports.phases
        )
    assert refused.value.rule is not None
    assert (len(store.outbox), store.commits) == before


async def test_seconding_officials_fills_the_need_and_a_redelivery_counts_once(
    ports: NeedsPorts, store: Store
) -> None:
    need_id = await raise_one(ports, positions=2)
    first, second = uuid4(), uuid4()
    one = placement_event("OfficerSeconded", need_id, first)
    await handlers.on_placement_events([one], ports.uow())
    await handlers.on_placement_events([one], ports.uow())  # redelivered: nothing new
    need = await handlers.get_need(HEALTH, need_id, ports.uow())
    assert (need.positions_filled, need.status) == (1, NeedStatus.OPEN)

    await handlers.on_placement_events(
        [placement_event("OfficerSeconded", need_id, second)], ports.uow()
    )
    need = await handlers.get_need(HEALTH, need_id, ports.uow())
    assert (need.positions_filled, need.status) == (2, NeedStatus.FILLED)
    assert [e.type for e in store.outbox][-1] == "NeedFilled"

    cancelled = placement_event(
        "SecondmentCancelled", need_id, second, cancelled_on="2024-09-02", reason="nhầm"
    )
    await handlers.on_placement_events([cancelled], ports.uow())
    need = await handlers.get_need(HEALTH, need_id, ports.uow())
    assert (need.positions_filled, need.status) == (1, NeedStatus.OPEN)
    assert [e.type for e in store.outbox][-1] == "NeedReopened"


async def test_one_batch_of_fills_and_a_cancellation_on_one_need_counts_as_one_by_one(
    ports: NeedsPorts, store: Store
) -> None:
    """The batch loads the need once and carries it from event to event: its new events
    follow each other in version order, as they would one batch each."""
    need_id = await raise_one(ports, positions=2)
    first, second, third = uuid4(), uuid4(), uuid4()
    batch = [
        recorded(0, placement_event("OfficerSeconded", need_id, first)),
        recorded(1, placement_event("OfficerSeconded", need_id, second)),
        recorded(
            2,
            placement_event(
                "SecondmentCancelled", need_id, second, cancelled_on="2024-09-02", reason="nhầm"
            ),
        ),
        recorded(3, placement_event("OfficerSeconded", need_id, third)),
    ]
    await handlers.on_placement_events(batch, ports.uow())

    need = await handlers.get_need(HEALTH, need_id, ports.uow())
    assert (need.positions_filled, need.status) == (2, NeedStatus.FILLED)
    mine = [e for e in store.outbox if e.subject == need_id]
    assert [e.type for e in mine] == ["NeedRaised", "NeedFilled", "NeedReopened", "NeedFilled"]
    assert [e.aggregateversion for e in mine] == [1, 2, 3, 4]


async def test_a_fetch_counts_secondments_as_they_were_recorded_not_partition_by_partition(
    ports: NeedsPorts, store: Store
) -> None:
    """A mistaken secondment, its cancellation, then the right one: the fetch brings the
    right one's partition first. The need (two positions) was never full."""
    need_id = await raise_one(ports, positions=2)
    mistaken, right = uuid4(), uuid4()
    fetch = [
        recorded(2, placement_event("OfficerSeconded", need_id, right)),
        recorded(0, placement_event("OfficerSeconded", need_id, mistaken)),
        recorded(
            1,
            placement_event(
                "SecondmentCancelled", need_id, mistaken, cancelled_on="2026-12-04", reason="nhầm"
            ),
        ),
    ]
    await handlers.on_placement_events(fetch, ports.uow())

    need = await handlers.get_need(HEALTH, need_id, ports.uow())
    assert (need.positions_filled, need.status) == (1, NeedStatus.OPEN)
    assert [e.type for e in store.outbox if e.subject == need_id] == ["NeedRaised"]


def test_each_secondments_events_keep_their_order_whatever_their_times() -> None:
    """A clock that went back between two events of one secondment (another replica) does not
    put its cancellation before its decision."""
    need_id, one, other = str(uuid4()), uuid4(), uuid4()
    at = dt.datetime(2024, 8, 20, 9, tzinfo=dt.UTC)
    seconded = placement_event("OfficerSeconded", need_id, one)
    cancelled = placement_event(
        "SecondmentCancelled", need_id, one, cancelled_on="2024-09-02", reason="nhầm"
    )
    late = placement_event("OfficerSeconded", need_id, other)
    fetch = [
        seconded.model_copy(update={"time": at}),
        cancelled.model_copy(update={"time": at - dt.timedelta(seconds=1)}),
        late.model_copy(update={"time": at - dt.timedelta(seconds=5)}),
    ]
    ordered = handlers.in_recorded_order(fetch)
    assert [e.id for e in ordered] == [late.id, seconded.id, cancelled.id]


async def test_a_withdrawn_need_is_listed_as_withdrawn_and_only_to_its_parties(
    ports: NeedsPorts,
) -> None:
    need_id = await raise_one(ports)
    await handlers.withdraw_need(
        HEALTH, need_id, WithdrawNeed(reason="Đã bố trí"), ports.uow(), ctx(), TODAY
    )
    page = await handlers.list_needs(HEALTH, ports.uow(), cursor=None, limit=10, status="WITHDRAWN")
    assert [str(n.need_id) for n in page.items] == [need_id]
    hidden = await handlers.list_needs(EDUCATION, ports.uow(), cursor=None, limit=10)
    assert hidden.items == []
    with pytest.raises(DomainError) as missing:
        await handlers.get_need(EDUCATION, need_id, ports.uow())
    assert missing.value.rule is RuleCode.NOT_FOUND
