"""What became of each official: the post arrangement's destination and post, and promotions
recorded after the return (on the in-memory fakes, like `test_use_cases.py`)."""

from typing import Any

import pytest

from services.placement.domain.commands import ArrangePostSecondment, RecordPromotionAfterReturn
from services.placement.service_layer import handlers
from services.placement.service_layer.ports import PlacementPorts
from shared.contract.events import PostSecondmentArranged
from shared.contract.examples import example_envelope
from shared.contract.rules import RuleCode
from shared.contract.types import UnitRef
from shared.seedwork.errors import DomainError
from tests.unit.fakes import Store
from tests.unit.placement.test_use_cases import HOME, a_need, ctx, ended, ports, second, store

__all__ = ["ports", "store"]  # the fixtures of the use cases, shared


def arrangement(**changes: Any) -> ArrangePostSecondment:
    body: dict[str, Any] = {
        "arrangement": "RETURNED_TO_FORMER_POST",
        "effective_date": "2025-03-10",
    }
    return ArrangePostSecondment.model_validate(body | changes)


def promotion(
    rank: str = "TRUONG_PHONG", on: str = "2025-06-01", unit: str | None = None
) -> RecordPromotionAfterReturn:
    return RecordPromotionAfterReturn.model_validate(
        {
            "new_position_rank": rank,
            "promoted_on": on,
            "destination_unit": unit,
            "post_title": "Trưởng phòng Nội vụ",
            "decision": {"number": "77/QĐ-UBND", "date": on},
        }
    )


async def refusal(call: Any) -> RuleCode:
    with pytest.raises(DomainError) as refused:
        await call
    return refused.value.rule


async def test_the_arrangement_records_the_destination_unit_as_named_then_and_the_post(
    ports: PlacementPorts, store: Store
) -> None:
    sid = await ended(ports, store, "PHO_TRUONG_PHONG")
    cmd = arrangement(
        arrangement="TRANSFERRED", destination_unit="SO_NOI_VU", post_title="Chuyên viên"
    )
    view = await handlers.arrange_post(HOME, sid, cmd, ports.uow(), ctx())
    assert view.post_arrangement is not None
    assert view.post_arrangement.destination_unit == UnitRef(code="SO_NOI_VU", name="Sở Nội vụ")
    assert view.post_arrangement.post_title == "Chuyên viên"
    assert store.outbox[-1].data["destination_unit"]["code"] == "SO_NOI_VU"


async def test_an_unknown_destination_or_rank_is_refused_and_changes_nothing(
    ports: PlacementPorts, store: Store
) -> None:
    sid = await ended(ports, store, "PHO_TRUONG_PHONG")
    outbox = len(store.outbox)
    for cmd in (
        arrangement(destination_unit="NO_SUCH_UNIT"),
        arrangement(destination_unit="DN_SO_NOI_VU"),  # from 2025-07-01 only
        arrangement(arrangement="TRANSFERRED", new_position_rank="NO_SUCH_RANK"),
    ):
        assert await refusal(handlers.arrange_post(HOME, sid, cmd, ports.uow(), ctx())) is (
            RuleCode.UNKNOWN_CODE
        )
    assert len(store.outbox) == outbox


def test_an_arrangement_recorded_before_the_destination_existed_still_reads() -> None:
    """Old events lack the new fields: they read as null (backward compatible within v1)."""
    data = example_envelope("PostSecondmentArranged")["data"]
    old = {k: v for k, v in data.items() if k not in ("destination_unit", "post_title")}
    event = PostSecondmentArranged.model_validate(old)
    assert event.destination_unit is None
    assert event.post_title is None


async def test_a_later_promotion_follows_the_arrangement_and_is_recorded_as_its_own_event(
    ports: PlacementPorts, store: Store
) -> None:
    sid = await ended(ports, store, "PHO_TRUONG_PHONG")
    early = handlers.record_promotion_after_return(HOME, sid, promotion(), ports.uow(), ctx())
    assert await refusal(early) is RuleCode.LIFECYCLE_ORDER  # no arrangement yet
    await handlers.arrange_post(HOME, sid, arrangement(), ports.uow(), ctx())
    before = promotion(on="2025-03-09")  # before the arrangement took effect
    call = handlers.record_promotion_after_return(HOME, sid, before, ports.uow(), ctx())
    assert await refusal(call) is RuleCode.LIFECYCLE_ORDER
    cmd = promotion(unit="NAM_GIANG")  # the district still exists on 2025-06-01
    view = await handlers.record_promotion_after_return(HOME, sid, cmd, ports.uow(), ctx())
    assert store.outbox[-1].type == "OfficialPromotedAfterReturn"
    [promoted] = view.promotions_after_return
    assert promoted.new_position_rank == "TRUONG_PHONG"
    assert promoted.destination_unit == UnitRef(code="NAM_GIANG", name="Huyện Nam Giang")


async def test_a_promotion_on_an_active_secondment_is_out_of_order(
    ports: PlacementPorts, store: Store
) -> None:
    sid = await second(ports, a_need(store))
    call = handlers.record_promotion_after_return(HOME, sid, promotion(), ports.uow(), ctx())
    assert await refusal(call) is RuleCode.LIFECYCLE_ORDER


@pytest.mark.parametrize(
    ("arranged", "ranks", "refused_with"),
    [
        (None, ["TRUONG_PHONG"], None),
        (None, ["TRUONG_PHONG", "PHO_CHU_TICH_UBND_XA"], None),  # a second, higher one
        (None, ["PHO_TRUONG_PHONG"], RuleCode.PROMOTION_NOT_HIGHER),  # the rank held
        (None, ["CHUYEN_VIEN"], RuleCode.PROMOTION_NOT_HIGHER),  # lower
        (None, ["PHO_CHU_TICH_UBND_XA", "TRUONG_PHONG"], RuleCode.PROMOTION_NOT_ABOVE_EARLIER),
        (None, ["TRUONG_PHONG", "TRUONG_PHONG"], RuleCode.PROMOTION_NOT_ABOVE_EARLIER),
        ("TRUONG_PHONG", ["TRUONG_PHONG"], RuleCode.PROMOTION_NOT_ABOVE_EARLIER),
        ("TRUONG_PHONG", ["PHO_CHU_TICH_UBND_XA"], None),
    ],
)
async def test_each_promotion_is_above_the_rank_at_secondment_and_every_earlier_one(
    ports: PlacementPorts,
    store: Store,
    arranged: str | None,
    ranks: list[str],
    refused_with: RuleCode | None,
) -> None:
    sid = await ended(ports, store, "PHO_TRUONG_PHONG")
    cmd = (
        arrangement(arrangement="PROMOTED", new_position_rank=arranged)
        if arranged
        else arrangement()
    )
    await handlers.arrange_post(HOME, sid, cmd, ports.uow(), ctx())
    days = ("2025-07-01", "2025-08-01")
    *first, last = [promotion(rank, on) for rank, on in zip(ranks, days, strict=False)]
    for step in first:
        await handlers.record_promotion_after_return(HOME, sid, step, ports.uow(), ctx())
    outbox = len(store.outbox)
    call = handlers.record_promotion_after_return(HOME, sid, last, ports.uow(), ctx())
    if refused_with is None:
        await call
        assert len(store.outbox) == outbox + 1
    else:
        assert await refusal(call) is refused_with
        assert len(store.outbox) == outbox
