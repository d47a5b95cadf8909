"""The placement service's use cases on in-memory fakes of their ports (`tests/unit/fakes.py`):
what a home authority sees happen when it seconds an official — a position taken, the event
published, refusals changing nothing — without a database or a broker."""

import datetime as dt
from typing import Any
from uuid import uuid4

import pytest

from services.placement.domain.commands import (
    ArrangePostSecondment,
    EndSecondment,
    RecordReception,
    SecondOfficial,
)
from services.placement.service_layer import handlers
from services.placement.service_layer.ports import PlacementPorts
from shared.authz import Principal, Scope
from shared.contract.envelope import CloudEvent
from shared.contract.events import NeedRaised
from shared.contract.examples import example_envelope
from shared.contract.rules import RuleCode
from shared.contract.types import UnitRef
from shared.phases import DEFAULT_PHASES
from shared.seedwork.errors import DomainError
from shared.seedwork.ports import RequestContext
from tests.samples import ending_body, official_body, secondment_body
from tests.unit.fakes import FakePlacementUnitOfWork, Store

HOME = Principal(
    agency="NAM_GIANG", scopes=frozenset({Scope.SECONDMENTS_WRITE.value}), subject="u1"
)


def ctx() -> RequestContext:
    return RequestContext("u1", "req-1", "req-1", dt.datetime(2024, 8, 20, 9, tzinfo=dt.UTC))


async def test_a_need_is_known_once_its_event_is_consumed_and_closed_when_withdrawn(
    ports: PlacementPorts, store: Store
) -> None:
    need = NeedRaised.model_validate(example_envelope("NeedRaised")["data"])
    await handlers.on_need_events([raised_envelope(need)], ports.uow())
    need_id = str(need.need_id)
    assert store.table("needs")[need_id]["status"] == "OPEN"
    withdrawn = example_envelope("NeedWithdrawn")
    withdrawn["data"]["need_id"] = need_id
    await handlers.on_need_events([CloudEvent.model_validate(withdrawn)], ports.uow())
    assert await refused(ports, need_id) is RuleCode.NEED_NOT_OPEN


def raised_envelope(need: NeedRaised) -> CloudEvent:
    body = example_envelope("NeedRaised")
    body["data"] = need.model_dump(mode="json")
    return CloudEvent.model_validate(body)


def a_need(store: Store, positions: int = 1) -> str:
    """A need the needs topic brought: Sở Y tế, health, deputy head of division or higher."""
    need_id = str(uuid4())
    store.table("needs")[need_id] = {
        "need_id": need_id,
        "host_unit": UnitRef(code="SO_Y_TE", name="Sở Y tế"),
        "sector": "HEALTH",
        "positions": positions,
        "min_rank": "PHO_TRUONG_PHONG",
        "status": "OPEN",
        "taken": 0,
    }
    return need_id


def caught_up(answer: bool) -> Any:
    async def check() -> bool:
        return answer

    return check


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def ports(store: Store) -> PlacementPorts:
    """Typed as the service's ports: mypy checks the fake keeps the protocol."""
    return PlacementPorts(
        uow=lambda: FakePlacementUnitOfWork(store),
        phases=DEFAULT_PHASES,
        needs_caught_up=caught_up(True),
    )


async def second(ports: PlacementPorts, need_id: str, **changes: Any) -> str:
    cmd = SecondOfficial.model_validate(secondment_body(need_id, **changes))
    view = await handlers.second_official(
        HOME, cmd, ports.uow(), ctx(), ports.phases, ports.needs_caught_up
    )
    return str(view.secondment_id)


async def refused(ports: PlacementPorts, need_id: str, **changes: Any) -> RuleCode:
    with pytest.raises(DomainError) as caught:
        await second(ports, need_id, **changes)
    return caught.value.rule


async def test_seconding_takes_a_position_and_publishes_the_decision(
    ports: PlacementPorts, store: Store
) -> None:
    need_id = a_need(store, positions=2)
    secondment_id = await second(ports, need_id)
    [event] = store.outbox
    assert (event.type, event.subject) == ("OfficerSeconded", secondment_id)
    assert store.table("needs")[need_id]["taken"] == 1
    assert store.table("secondments_view")[secondment_id]["status"] == "ACTIVE"
    assert len(store.answers) == 1  # remembered in the same transaction


async def test_a_full_need_refuses_the_next_official_and_nothing_changes(
    ports: PlacementPorts, store: Store
) -> None:
    need_id = a_need(store, positions=1)
    await second(ports, need_id)
    before = (len(store.outbox), store.commits)
    other = official_body(official_id="NG-0002", full_name="Bling Văn Ba")
    assert await refused(ports, need_id, official=other) is RuleCode.NEED_FULL
    assert (len(store.outbox), store.commits) == before
    assert store.table("needs")[need_id]["taken"] == 1


async def test_the_same_official_cannot_be_seconded_twice_at_once(
    ports: PlacementPorts, store: Store
) -> None:
    await second(ports, a_need(store))
    outbox = len(store.outbox)
    assert await refused(ports, a_need(store)) is RuleCode.OVERLAPPING_SECONDMENT
    assert len(store.outbox) == outbox


async def test_an_unknown_need_is_refused_as_unknown_or_not_yet_known(
    ports: PlacementPorts, store: Store
) -> None:
    missing = str(uuid4())
    assert await refused(ports, missing) is RuleCode.NEED_UNKNOWN
    behind = PlacementPorts(
        uow=ports.uow, phases=ports.phases, needs_caught_up=caught_up(False)
    )  # the needs topic not consumed to its end: the need may still be on its way
    assert await refused(behind, missing) is RuleCode.NEED_NOT_YET_KNOWN
    assert store.outbox == []


async def ended(ports: PlacementPorts, store: Store, rank: str) -> str:
    """A secondment of an official holding `rank`, received, then ended on time."""
    official = official_body(official_id=f"NG-{rank}", position_rank=rank)
    secondment_id = await second(ports, a_need(store), official=official)
    host = Principal(
        agency="SO_Y_TE", scopes=frozenset({Scope.RECEPTION_WRITE.value}), subject="h1"
    )
    reception = RecordReception(received_on=dt.date(2024, 9, 1), assigned_role="Phó phòng")
    await handlers.record_reception(host, secondment_id, reception, ports.uow(), ctx())
    ending = EndSecondment.model_validate(ending_body())
    await handlers.end_secondment(HOME, secondment_id, ending, ports.uow(), ctx())
    return secondment_id


@pytest.mark.parametrize(
    ("held", "new", "refused_with"),
    [
        ("PHO_TRUONG_PHONG", "TRUONG_PHONG", None),  # deputy head → head: a promotion
        ("TRUONG_PHONG", "TRUONG_PHONG", RuleCode.PROMOTION_NOT_HIGHER),  # the same rank
        ("TRUONG_PHONG", "PHO_TRUONG_PHONG", RuleCode.PROMOTION_NOT_HIGHER),  # lower
    ],
)
async def test_a_promotion_must_be_to_a_rank_above_the_one_held_when_seconded(
    ports: PlacementPorts, store: Store, held: str, new: str, refused_with: RuleCode | None
) -> None:
    secondment_id = await ended(ports, store, held)
    outbox = len(store.outbox)
    arrange = ArrangePostSecondment(
        arrangement="PROMOTED", new_position_rank=new, effective_date=dt.date(2025, 3, 10)
    )
    if refused_with is None:
        await handlers.arrange_post(HOME, secondment_id, arrange, ports.uow(), ctx())
        assert store.outbox[-1].type == "PostSecondmentArranged"
        return
    with pytest.raises(DomainError) as refused_:
        await handlers.arrange_post(HOME, secondment_id, arrange, ports.uow(), ctx())
    assert refused_.value.rule is refused_with
    assert len(store.outbox) == outbox
