"""Projection of contract events into the read models: one function per event type.

Each function turns one event into rows of the kinds of change in `changes.py`, which folds
a batch's rows to one per aggregate and table; the unit of work applies them as idempotent,
order-tolerant merges (one statement per table and batch). Applying a batch claims its
event ids in the same transaction (`processed_events`), so a redelivery changes nothing, and
even without the claim (the rebuild) applying an event twice changes nothing either.
Needs and secondments are separate rows joined only at query time, so an `OfficerSeconded`
may land before the `NeedRaised` it refers to.
"""

import json
from collections.abc import Callable, Iterable, Sequence

from services.reporting.service_layer.changes import Changes
from services.reporting.service_layer.ports import ReportingUnitOfWork
from shared.contract.envelope import CloudEvent, read_event
from shared.contract.events import (
    EventData,
    NeedAmended,
    NeedFilled,
    NeedRaised,
    NeedReopened,
    NeedWithdrawn,
    OfficerSeconded,
    OfficialPromotedAfterReturn,
    OfficialReceived,
    PostSecondmentArranged,
    SecondmentCancelled,
    SecondmentEnded,
    SecondmentExtended,
    SecondmentPlanAdopted,
    SecondmentPlanAmended,
)

CONSUMER = "reporting.projections"


def _need_raised(c: Changes, e: NeedRaised, v: int) -> None:
    c.add(
        "need_raised",
        {
            "need_id": str(e.need_id),
            "host_unit": e.host_unit.code,
            "host_unit_name": e.host_unit.name,
            "sector": e.sector,
            "positions": e.positions,
            "raised_on": e.raised_on,
            "version": v,
        },
    )


def _need_amended(c: Changes, e: NeedAmended, v: int) -> None:
    need_id = str(e.need_id)
    host, host_name = (e.host_unit.code, e.host_unit.name) if e.host_unit else (None, None)
    c.add(
        "need_amendment",
        {
            "need_id": need_id,
            "version": v,
            "amended_on": e.amended_on,
            "host_unit": host,
            "host_unit_name": host_name,
            "sector": e.sector,
            "positions": e.positions,
            "raised_on": e.raised_on,
        },
    )
    c.add(
        "need_amended",
        {
            "need_id": need_id,
            "am_version": v,
            "amended_on": e.amended_on,
            "am_host_unit": host,
            "am_host_unit_name": host_name,
            "am_sector": e.sector,
            "am_positions": e.positions,
            "am_raised_on": e.raised_on,
            "version": v,
        },
    )


def _need_withdrawn(c: Changes, e: NeedWithdrawn, v: int) -> None:
    c.add(
        "need_withdrawn", {"need_id": str(e.need_id), "withdrawn_on": e.withdrawn_on, "version": v}
    )


def _need_filled(c: Changes, e: NeedFilled, v: int) -> None:
    need_id = str(e.need_id)
    c.add("need_fill", {"need_id": need_id, "version": v, "kind": "FILLED", "on_date": e.filled_on})
    c.add(
        "need_filled",
        {"need_id": need_id, "fill_version": v, "filled_on": e.filled_on, "version": v},
    )


def _need_reopened(c: Changes, e: NeedReopened, v: int) -> None:
    need_id = str(e.need_id)
    c.add(
        "need_fill",
        {"need_id": need_id, "version": v, "kind": "REOPENED", "on_date": e.reopened_on},
    )
    c.add("need_reopened", {"need_id": need_id, "reopened": True, "version": v})


def _officer_seconded(c: Changes, e: OfficerSeconded, v: int) -> None:
    c.add(
        "secondment_started",
        {
            "secondment_id": str(e.secondment_id),
            "need_id": str(e.need_id),
            "official_id": e.official.official_id,
            "home_unit": e.official.home_unit.code,
            "home_unit_name": e.official.home_unit.name,
            "host_unit": e.host_unit.code,
            "host_unit_name": e.host_unit.name,
            "sector": e.sector,
            "ethnicity": e.official.ethnicity,
            "gender": e.official.gender,
            "start_date": e.start_date,
            "planned_end_date": e.planned_end_date,
            "version": v,
        },
    )


def _official_received(c: Changes, e: OfficialReceived, v: int) -> None:
    c.add(
        "secondment_received",
        {"secondment_id": str(e.secondment_id), "received_on": e.received_on, "version": v},
    )


def _secondment_extended(c: Changes, e: SecondmentExtended, v: int) -> None:
    sid = str(e.secondment_id)
    c.add(
        "extension",
        {
            "secondment_id": sid,
            "version": v,
            "decided_on": e.decision.date,
            "new_planned_end_date": e.new_planned_end_date,
        },
    )
    c.add(
        "secondment_extended",
        {
            "secondment_id": sid,
            "ext_version": v,
            "ext_decided_on": e.decision.date,
            "ext_planned_end": e.new_planned_end_date,
            "version": v,
        },
    )


def _secondment_ended(c: Changes, e: SecondmentEnded, v: int) -> None:
    c.add(
        "secondment_ended",
        {
            "secondment_id": str(e.secondment_id),
            "ended_on": e.ended_on,
            "end_reason": e.reason,
            "rating": e.rating,
            "version": v,
        },
    )


def _post_arranged(c: Changes, e: PostSecondmentArranged, v: int) -> None:
    sid = str(e.secondment_id)
    destination = e.destination_unit.code if e.destination_unit else None
    c.add(
        "arrangement",
        {
            "secondment_id": sid,
            "version": v,
            "arrangement": e.arrangement,
            "new_position_rank": e.new_position_rank,
            "effective_date": e.effective_date,
            "destination_unit": destination,
        },
    )
    c.add(
        "secondment_arranged",
        {
            "secondment_id": sid,
            "arr_version": v,
            "arrangement": e.arrangement,
            "new_position_rank": e.new_position_rank,
            "arr_effective": e.effective_date,
            "arr_destination": destination,
            "version": v,
        },
    )


def _promoted_after_return(c: Changes, e: OfficialPromotedAfterReturn, v: int) -> None:
    c.add(
        "promotion",
        {
            "secondment_id": str(e.secondment_id),
            "version": v,
            "new_position_rank": e.new_position_rank,
            "promoted_on": e.promoted_on,
        },
    )


def _secondment_cancelled(c: Changes, e: SecondmentCancelled, v: int) -> None:
    c.add(
        "secondment_cancelled",
        {"secondment_id": str(e.secondment_id), "cancelled_on": e.cancelled_on, "version": v},
    )


def _plan_decided(c: Changes, e: SecondmentPlanAdopted | SecondmentPlanAmended, v: int) -> None:
    """Every decision of a plan is a history row: the one in force on a day is the latest
    decided by then (reporting reads them at each evaluation, `domain/plans.py`)."""
    adopted = e if isinstance(e, SecondmentPlanAdopted) else None
    c.add(
        "plan_version",
        {
            "plan_id": str(e.plan_id),
            "version": v,
            "home_unit": adopted.home_unit.code if adopted else None,
            "phase_id": adopted.phase_id if adopted else None,
            "decided_on": e.decision.date,
            "decision_no": e.decision.number,
            "targets": json.dumps([t.model_dump() for t in e.targets]),
        },
    )


Projector = Callable[[Changes, EventData, int], None]

PROJECTORS: dict[type[EventData], Projector] = {
    NeedRaised: _need_raised,  # type: ignore[dict-item]
    NeedAmended: _need_amended,  # type: ignore[dict-item]
    NeedWithdrawn: _need_withdrawn,  # type: ignore[dict-item]
    NeedFilled: _need_filled,  # type: ignore[dict-item]
    NeedReopened: _need_reopened,  # type: ignore[dict-item]
    OfficerSeconded: _officer_seconded,  # type: ignore[dict-item]
    OfficialReceived: _official_received,  # type: ignore[dict-item]
    SecondmentExtended: _secondment_extended,  # type: ignore[dict-item]
    SecondmentEnded: _secondment_ended,  # type: ignore[dict-item]
    PostSecondmentArranged: _post_arranged,  # type: ignore[dict-item]
    SecondmentCancelled: _secondment_cancelled,  # type: ignore[dict-item]
    OfficialPromotedAfterReturn: _promoted_after_return,  # type: ignore[dict-item]
    SecondmentPlanAdopted: _plan_decided,  # type: ignore[dict-item]
    SecondmentPlanAmended: _plan_decided,  # type: ignore[dict-item]
}


def parsed(envelopes: Sequence[CloudEvent]) -> list[tuple[CloudEvent, EventData]]:
    """Each envelope with its validated data (pydantic ValidationError or KeyError if bad)."""
    return [(e, read_event(e)) for e in envelopes]


def changes_of(
    events: Iterable[tuple[CloudEvent, EventData]], into: Changes | None = None
) -> Changes:
    """The rows a sequence of parsed events produces."""
    changes = into if into is not None else Changes()
    for envelope, event in events:
        projector = PROJECTORS.get(type(event))
        if projector is not None:
            projector(changes, event, envelope.aggregateversion)
        changes.events += 1
    return changes


async def project_batch(envelopes: Sequence[CloudEvent], uow: ReportingUnitOfWork) -> int:
    """Apply a batch once, in one transaction; returns how many events were new.

    Raises pydantic's ValidationError or KeyError for a malformed or unknown event and
    `ConflictingDuplicate` for an id seen with another payload: the transport then retries
    the batch one event at a time and dead-letters the culprit.
    """
    events = parsed(envelopes)  # validate before touching the database
    async with uow:
        fresh = await uow.claim_many(CONSUMER, envelopes)
        if fresh:
            if len(fresh) < len(events):
                ids = {e.id for e in fresh}
                events = [p for p in events if p[0].id in ids]
            await uow.apply(changes_of(events))
        await uow.commit()
    return len(fresh)


async def project(envelope: CloudEvent, uow: ReportingUnitOfWork) -> bool:
    """Apply one event once; returns False for a redelivery (nothing changed)."""
    return await project_batch([envelope], uow) == 1
