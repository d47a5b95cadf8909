"""Use cases of the needs service: one small function per command or consumed event."""

import datetime as dt
import heapq
from collections.abc import Sequence

from services.needs.domain.commands import AmendNeed, RaiseNeed, WithdrawNeed
from services.needs.domain.need import Need
from services.needs.service_layer.ports import NeedsUnitOfWork
from services.needs.service_layer.views import NeedView, need_view
from shared.authz import Action, Principal, authorize, may_read, units_acted_for
from shared.contract.envelope import CloudEvent, read_event
from shared.contract.events import OfficerSeconded, SecondmentCancelled
from shared.phases import Phase
from shared.seedwork.errors import NotFound, found
from shared.seedwork.pagination import Page, cut_page, decode_cursor
from shared.seedwork.ports import RequestContext

CONSUMER = "needs.placements"
"""Name under which this service records the placement events it processed."""


async def _save(uow: NeedsUnitOfWork, need: Need, ctx: RequestContext) -> NeedView:
    view = need_view(need)
    await uow.needs.save(need, ctx)
    await uow.write_view(need, view.model_dump(mode="json"))
    await uow.commit(answer=view)
    return view


async def _load(uow: NeedsUnitOfWork, need_id: str) -> Need:
    return found(await uow.get_need(need_id), "need", need_id)


async def raise_need(
    principal: Principal,
    cmd: RaiseNeed,
    uow: NeedsUnitOfWork,
    ctx: RequestContext,
    today: dt.date,
    phases: Sequence[Phase],
) -> NeedView:
    """Raise a need for the caller's own department; `NeedRaised` leaves via the outbox."""
    authorize(principal, Action.RAISE_NEED, host=cmd.host_unit)
    need = Need.raise_need(cmd, today, phases)
    async with uow:
        return await _save(uow, need, ctx)


async def amend_need(
    principal: Principal,
    need_id: str,
    cmd: AmendNeed,
    uow: NeedsUnitOfWork,
    ctx: RequestContext,
    today: dt.date,
    phases: Sequence[Phase],
) -> NeedView:
    """Correct a need while none of its positions is filled."""
    async with uow:
        need = await _load(uow, need_id)
        authorize(principal, Action.AMEND_NEED, host=need.raised.host_unit.code)
        if cmd.host_unit is not None:
            authorize(principal, Action.AMEND_NEED, host=cmd.host_unit)
        need.amend(cmd, today, phases)
        return await _save(uow, need, ctx)


async def withdraw_need(
    principal: Principal,
    need_id: str,
    cmd: WithdrawNeed,
    uow: NeedsUnitOfWork,
    ctx: RequestContext,
    today: dt.date,
) -> NeedView:
    """Withdraw a need that is not fully filled."""
    async with uow:
        need = await _load(uow, need_id)
        authorize(principal, Action.WITHDRAW_NEED, host=need.raised.host_unit.code)
        need.withdraw(cmd, today)
        return await _save(uow, need, ctx)


async def get_need(principal: Principal, need_id: str, uow: NeedsUnitOfWork) -> NeedView:
    """The need as it stands now; another agency's need is not found (no leak)."""
    async with uow:
        need = await _load(uow, need_id)
    if not may_read(principal, [need.raised.host_unit.code]):
        raise NotFound("need", need_id)
    return need_view(need)


async def list_needs(
    principal: Principal,
    uow: NeedsUnitOfWork,
    *,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    sector: str | None = None,
    host_unit: str | None = None,
) -> Page[NeedView]:
    """Needs oldest first, filtered, one page at a time."""
    async with uow:
        rows = await uow.list_needs(
            after=decode_cursor(cursor),
            limit=limit + 1,
            status=status,
            sector=sector,
            host_unit=host_unit,
            visible_hosts=None if may_read(principal, []) else units_acted_for(principal.agency),
        )
    page, after = cut_page(rows, limit, lambda row: row[0])
    return Page[NeedView](
        items=[NeedView.model_validate(body) for _, body in page], next_cursor=after
    )


POSITION_EVENTS = ("OfficerSeconded", "SecondmentCancelled")
"""The placement events that take or give back a position; the others change no need."""


async def on_placement_event(envelope: CloudEvent, uow: NeedsUnitOfWork) -> None:
    """Count positions taken and given back; fill or reopen the need accordingly."""
    await on_placement_events([envelope], uow)


async def on_placement_events(envelopes: Sequence[CloudEvent], uow: NeedsUnitOfWork) -> None:
    """The same for a batch of events (in partition order), in one transaction."""
    relevant = in_recorded_order([e for e in envelopes if e.type in POSITION_EVENTS])
    if not relevant:
        return
    async with uow:
        fresh = [
            (envelope, event)
            for envelope in await uow.claim_many(CONSUMER, relevant)
            if isinstance(event := read_event(envelope), OfficerSeconded | SecondmentCancelled)
        ]  # (read_event upcasts from the envelope's `dataversion`)
        # Another replica may be counting these needs' positions now (events of two
        # secondments travel on different partitions): take turns, or both count stale. The
        # batch locks its needs up front, in one order, so two batches cannot deadlock; then
        # reads their positions taken, and counts on from there in memory.
        need_ids = sorted({str(event.need_id) for _, event in fresh})
        await uow.lock_needs(need_ids)
        taken = await uow.fills(need_ids)
        loaded = await uow.needs.get_many(need_ids)  # each need once, in one statement
        for envelope, event in fresh:
            await _count_position(envelope, event, uow, loaded, taken)
        for need in loaded.values():  # each need's list row once, as the batch left it
            if need is not None:
                await uow.write_view(need, need_view(need).model_dump(mode="json"))
        await uow.commit()


def in_recorded_order(envelopes: Sequence[CloudEvent]) -> list[CloudEvent]:
    """A fetch's events, each secondment's in its own (partition) order, merged across
    secondments by when they were recorded.

    Two secondments' events travel on different partitions, and a fetch hands them over
    partition by partition: a mistaken secondment's cancellation may come after the next
    secondment to its need, though decided before it. Counted in that order the need would be
    full for a moment it never was (NeedFilled, then NeedReopened). Within a fetch the merge
    counts them as they happened; across fetches the partitions' order is the broker's."""
    streams: dict[str, list[CloudEvent]] = {}
    for envelope in envelopes:
        streams.setdefault(envelope.subject, []).append(envelope)
    if len(streams) < 2:
        return list(envelopes)
    # heapq.merge compares only the streams' heads: each stream keeps its order, even where
    # two replicas' clocks disagree about its events' times.
    return list(heapq.merge(*streams.values(), key=lambda e: e.time))


async def _count_position(
    envelope: CloudEvent,
    event: OfficerSeconded | SecondmentCancelled,
    uow: NeedsUnitOfWork,
    loaded: dict[str, Need | None],
    taken: dict[str, set[str]],
) -> None:
    need_id, secondment_id = str(event.need_id), str(event.secondment_id)
    holding = taken.setdefault(need_id, set())
    if isinstance(event, OfficerSeconded):
        on = event.decision.date
        if secondment_id not in holding:
            await uow.add_fill(need_id, secondment_id, on)
            holding.add(secondment_id)
    else:
        on = event.cancelled_on
        if secondment_id in holding:
            await uow.remove_fill(need_id, secondment_id)
            holding.discard(secondment_id)
    need = loaded[need_id]  # saved below, the aggregate stays as its stream now is
    if need is not None:
        need.record_filled_positions(len(holding), on)
        ctx = RequestContext(
            actor="needs",
            correlation_id=envelope.correlationid,
            causation_id=str(envelope.id),
            now=dt.datetime.now(dt.UTC),
        )
        await uow.needs.save(need, ctx)  # its new events, if any, caused by this one
