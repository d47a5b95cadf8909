"""What callers see of a secondment."""

import datetime as dt
from uuid import UUID

from pydantic import BaseModel, Field

from services.placement.domain.secondment import Secondment, SecondmentStatus
from shared.clock import today
from shared.contract.events import (
    Official,
    OfficialPromotedAfterReturn,
    OfficialReceived,
    PostSecondmentArranged,
    SecondmentCancelled,
    SecondmentEnded,
    SecondmentExtended,
)
from shared.contract.personal import FREE_TEXT, UNAVAILABLE_NAME, UNAVAILABLE_TEXT
from shared.contract.types import Code, Decision, Gender, ServiceCategory, UnitRef
from shared.reference import reference_data


class OfficialView(BaseModel):
    """The official as shown: identity `null` once erased (statistics stay)."""

    official_id: str
    full_name: str | None
    gender: Gender
    birth_date: dt.date | None
    ethnicity: Code
    ethnic_subgroup: Code | None = None
    service_category: ServiceCategory
    position_rank: Code
    home_unit: UnitRef
    identity_erased: bool = False


def official_view(official: Official) -> OfficialView:
    """Shown as opened; an identity whose key is gone shows as erased."""
    erased = official.full_name == UNAVAILABLE_NAME
    fields = official.model_dump()
    if erased:
        fields |= {"full_name": None, "birth_date": None}
    return OfficialView(**fields, identity_erased=erased)


def without_personal_data(view: "SecondmentView") -> "SecondmentView":
    """The view as stored for lists: no identity and no free text about the official in
    clear (both are opened from the events on read, so an erasure reaches them)."""
    hidden = view.official.model_copy(update={"full_name": None, "birth_date": None})
    changes: dict[str, object] = {"official": hidden}
    for part in ("reception", "ending", "cancellation"):
        step = getattr(view, part)
        if step is not None:
            texts = FREE_TEXT[type(step).__name__]
            changes[part] = step.model_copy(
                update={k: UNAVAILABLE_TEXT for k in texts if getattr(step, k) is not None}
            )
    return view.model_copy(update=changes)


class SecondmentView(BaseModel):
    """A secondment with every step recorded so far."""

    secondment_id: UUID
    status: SecondmentStatus
    need_id: UUID
    official: OfficialView
    host_unit: UnitRef
    sector: Code
    start_date: dt.date
    planned_end_date: dt.date
    decision: Decision
    home_unit_successors: list[UnitRef] = Field(
        default=[],
        description="Where the home unit lives on today, if it was abolished (2025 reform).",
    )
    reception: OfficialReceived | None = None
    extensions: list[SecondmentExtended] = []
    ending: SecondmentEnded | None = None
    post_arrangement: PostSecondmentArranged | None = None
    promotions_after_return: list[OfficialPromotedAfterReturn] = []
    cancellation: SecondmentCancelled | None = None


def secondment_view(s: Secondment) -> SecondmentView:
    """The view of an aggregate."""
    e = s.seconded
    return SecondmentView(
        secondment_id=s.secondment_id,
        status=s.status,
        need_id=e.need_id,
        official=official_view(e.official),
        host_unit=e.host_unit,
        sector=e.sector,
        start_date=e.start_date,
        planned_end_date=s.planned_end_date,
        decision=e.decision,
        home_unit_successors=successors_today(e.official.home_unit.code),
        reception=s.received,
        extensions=list(s.extensions),
        ending=s.ended,
        post_arrangement=s.arranged,
        promotions_after_return=list(s.promotions),
        cancellation=s.cancelled,
    )


def successors_today(code: str) -> list[UnitRef]:
    """The units that took over an abolished unit, as they are named today."""
    data = reference_data()
    if data.unit(code, today()) is not None:
        return []
    return [UnitRef(code=u.code, name=u.name) for u in data.successors(code, today())]
