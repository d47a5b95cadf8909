"""Use cases of the placement service: one small function per command or consumed event."""

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

from pydantic import BaseModel

from services.placement.domain.commands import (
    ArrangePostSecondment,
    CancelSecondment,
    EndSecondment,
    ExtendSecondment,
    RecordPromotionAfterReturn,
    RecordReception,
    SecondOfficial,
)
from services.placement.domain.secondment import Secondment
from services.placement.domain.views import NeedSnapshot
from services.placement.service_layer.ports import IdentityIntake, PlacementUnitOfWork
from services.placement.service_layer.views import (
    OfficialView,
    SecondmentView,
    secondment_view,
    without_personal_data,
)
from shared.authz import Action, Principal, authorize, may_read, units_acted_for
from shared.contract.envelope import CloudEvent, read_event
from shared.contract.rules import RuleCode
from shared.ids import created_at
from shared.phases import Phase
from shared.seedwork.errors import DomainError, NotFound, found
from shared.seedwork.pagination import Page, cut_page, decode_cursor
from shared.seedwork.ports import RequestContext

log = logging.getLogger(__name__)

CONSUMER = "placement.needs"

CaughtUp = Callable[[], Awaitable[bool]]
"""True once this service has consumed the needs topic to its end."""

NEW_NEED_LOOKS = 20
NEW_NEED_PAUSE = 0.05
"""Up to one second of waiting for a need raised a moment ago."""

RECENT = dt.timedelta(seconds=60)
"""A need id this young may still be in the needs service's outbox: never call it unknown.
Either side of our clock (skew); an id dated further ahead is from no clock of ours."""


async def _unknown_need_rule(need_id: UUID, needs_caught_up: CaughtUp) -> RuleCode:
    """NEED_UNKNOWN only when the needs topic is consumed to its end and the id is not new."""
    born = created_at(need_id)
    if born is not None and abs(dt.datetime.now(dt.UTC) - born) < RECENT:
        return RuleCode.NEED_NOT_YET_KNOWN
    try:
        caught_up = await needs_caught_up()
    except Exception:
        log.warning("could not compare the needs topic with our position", exc_info=True)
        caught_up = False
    return RuleCode.NEED_UNKNOWN if caught_up else RuleCode.NEED_NOT_YET_KNOWN


async def _save(uow: PlacementUnitOfWork, s: Secondment, ctx: RequestContext) -> SecondmentView:
    view = secondment_view(s)
    await uow.secondments.save(s, ctx)
    await uow.write_view(s, without_personal_data(view).model_dump(mode="json"))
    await uow.commit(answer=view)
    return view


async def _load(
    uow: PlacementUnitOfWork,
    secondment_id: str,
    principal: Principal,
    action: Action | None = None,
) -> Secondment:
    """The secondment, if the caller may act on it (`action`) or else see it.

    A command on another agency's secondment is refused (403 over HTTP, FORBIDDEN over Kafka,
    as for needs); a read of it is answered as if it did not exist (404: no leak).
    """
    s = found(await uow.secondments.get(secondment_id), "secondment", secondment_id)
    host, home = s.seconded.host_unit.code, s.seconded.official.home_unit.code
    if action is not None:
        authorize(principal, action, host=host, home=home)
    elif not may_read(principal, [host, home], identities=True):
        raise NotFound("secondment", secondment_id)
    return s


async def _wait_for_new_need(uow: PlacementUnitOfWork, need_id: UUID) -> None:
    """A need raised a moment ago is usually on its way: wait a little for it (each look in
    its own short transaction) rather than answer 503 to every client that just raised it.
    Called only when the command's transaction did not find the need (no extra look when it
    is known, as it nearly always is). Not in a shared transaction: the need could not
    arrive before it commits; the command is refused as not yet known and retried alone."""
    born = created_at(need_id)
    if uow.shared or born is None or abs(dt.datetime.now(dt.UTC) - born) > RECENT:
        return
    for _ in range(NEW_NEED_LOOKS):
        async with uow:
            if await uow.need(str(need_id)) is not None:
                return
        await asyncio.sleep(NEW_NEED_PAUSE)


def opened_identity(cmd: SecondOfficial, intake: IdentityIntake | None) -> SecondOfficial:
    """The command with an identity the agency sealed for our intake key opened (422 when it
    does not open: another key, another official, altered)."""
    sealed = cmd.official.identity_sealed
    if sealed is None:
        return cmd
    if intake is None:
        raise DomainError(RuleCode.INVALID_REQUEST, "this service takes no sealed identities")
    try:
        identity = intake.open(cmd.official.official_id, sealed)
    except ValueError as exc:
        raise DomainError(RuleCode.INVALID_REQUEST, str(exc)) from None
    official = cmd.official.model_copy(update={**identity.model_dump(), "identity_sealed": None})
    return cmd.model_copy(update={"official": official})


async def second_official(
    principal: Principal,
    cmd: SecondOfficial,
    uow: PlacementUnitOfWork,
    ctx: RequestContext,
    phases: Sequence[Phase],
    needs_caught_up: CaughtUp,
    intake: IdentityIntake | None = None,
) -> SecondmentView:
    """Decide a secondment: every rule of the plan, then a position taken atomically."""
    authorize(principal, Action.SECOND_OFFICIAL, home=cmd.official.home_unit)
    cmd = opened_identity(cmd, intake)
    official_id = cmd.official.official_id  # their turn taken with the need: see `spells`
    async with uow:
        need = await uow.need(str(cmd.need_id), lock_official=official_id)
        if need is not None:
            return await _second(cmd, need, uow, ctx, phases)
    await _wait_for_new_need(uow, cmd.need_id)  # raised a moment ago? its event on its way
    async with uow:
        need = await uow.need(str(cmd.need_id), lock_official=official_id)
        if need is None:
            rule = await _unknown_need_rule(cmd.need_id, needs_caught_up)
            detail = (
                f"need {cmd.need_id} does not exist"
                if rule is RuleCode.NEED_UNKNOWN
                else f"need {cmd.need_id} is not known here yet; retry shortly"
            )
            raise DomainError(rule, detail, need_id=str(cmd.need_id))
        return await _second(cmd, need, uow, ctx, phases)


async def _second(
    cmd: SecondOfficial,
    need: NeedSnapshot,
    uow: PlacementUnitOfWork,
    ctx: RequestContext,
    phases: Sequence[Phase],
) -> SecondmentView:
    """The decision, in the caller's transaction (which found the need)."""
    official_id, home_units = cmd.official.official_id, units_acted_for(cmd.official.home_unit)
    if uow.shared:  # a fetch of Kafka commands: refuse before writing (ADR 0008)
        spells = await uow.spells(official_id, home_units)
        secondment = Secondment.second(cmd, need, spells, phases)
        took = await uow.take_position(need.need_id)
    else:  # one round trip; a refusal rolls the position back with the transaction
        spells, took = await uow.spells_taking_position(official_id, home_units, need.need_id)
        secondment = Secondment.second(cmd, need, spells, phases)
    if not took:
        full = f"need {need.need_id} has no free position"
        raise DomainError(RuleCode.NEED_FULL, full, need_id=need.need_id)
    return await _save(uow, secondment, ctx)


async def _decide(
    uow: PlacementUnitOfWork,
    secondment_id: str,
    principal: Principal,
    action: Action,
    ctx: RequestContext,
    decide: Callable[[Secondment], None],
) -> SecondmentView:
    """A command that needs nothing but the secondment: load it (if the caller may act on
    it), apply the decision, save it."""
    async with uow:
        s = await _load(uow, secondment_id, principal, action)
        decide(s)
        return await _save(uow, s, ctx)


async def record_reception(
    principal: Principal,
    secondment_id: str,
    cmd: RecordReception,
    uow: PlacementUnitOfWork,
    ctx: RequestContext,
) -> SecondmentView:
    """The host received the official and assigned work."""
    return await _decide(
        uow, secondment_id, principal, Action.RECORD_RECEPTION, ctx, lambda s: s.receive(cmd)
    )


async def extend_secondment(
    principal: Principal,
    secondment_id: str,
    cmd: ExtendSecondment,
    uow: PlacementUnitOfWork,
    ctx: RequestContext,
    phases: Sequence[Phase],
) -> SecondmentView:
    """Move the planned end later, within the cap and without overlap."""
    async with uow:
        s = await _load(uow, secondment_id, principal, Action.EXTEND_SECONDMENT)
        official = s.seconded.official
        spells = await uow.spells(official.official_id, units_acted_for(official.home_unit.code))
        s.extend(cmd, spells, phases)
        return await _save(uow, s, ctx)


async def end_secondment(
    principal: Principal,
    secondment_id: str,
    cmd: EndSecondment,
    uow: PlacementUnitOfWork,
    ctx: RequestContext,
) -> SecondmentView:
    """End a secondment by decision."""
    return await _decide(
        uow, secondment_id, principal, Action.END_SECONDMENT, ctx, lambda s: s.end(cmd)
    )


async def arrange_post(
    principal: Principal,
    secondment_id: str,
    cmd: ArrangePostSecondment,
    uow: PlacementUnitOfWork,
    ctx: RequestContext,
) -> SecondmentView:
    """Record the official's post after the secondment."""
    act = Action.ARRANGE_POST_SECONDMENT
    return await _decide(uow, secondment_id, principal, act, ctx, lambda s: s.arrange_post(cmd))


async def record_promotion_after_return(
    principal: Principal,
    secondment_id: str,
    cmd: RecordPromotionAfterReturn,
    uow: PlacementUnitOfWork,
    ctx: RequestContext,
) -> SecondmentView:
    """Record a promotion after the return (the home authority's, like the arrangement)."""
    act, decide = Action.RECORD_PROMOTION_AFTER_RETURN, lambda s: s.promote_after_return(cmd)
    return await _decide(uow, secondment_id, principal, act, ctx, decide)


async def cancel_secondment(
    principal: Principal,
    secondment_id: str,
    cmd: CancelSecondment,
    uow: PlacementUnitOfWork,
    ctx: RequestContext,
    today: dt.date,
) -> SecondmentView:
    """Void a mistaken record; its position is free again at once."""
    async with uow:
        s = await _load(uow, secondment_id, principal, Action.CANCEL_SECONDMENT)
        s.cancel(cmd, today)
        await uow.release_position(str(s.seconded.need_id))
        return await _save(uow, s, ctx)


async def get_secondment(
    principal: Principal, secondment_id: str, uow: PlacementUnitOfWork
) -> SecondmentView:
    """The secondment as it stands."""
    async with uow:
        return secondment_view(await _load(uow, secondment_id, principal))


async def history(
    principal: Principal, secondment_id: str, uow: PlacementUnitOfWork
) -> list[CloudEvent]:
    """Every event of the secondment, in version order."""
    async with uow:
        await _load(uow, secondment_id, principal)
        events = await uow.secondments.history(secondment_id)
    if not events:
        raise NotFound("secondment", secondment_id)
    return events


async def list_secondments(
    principal: Principal,
    uow: PlacementUnitOfWork,
    *,
    cursor: str | None,
    limit: int,
    filters: dict[str, str | None],
) -> Page[SecondmentView]:
    """Secondments oldest first, filtered to those the caller is a party to."""
    visible = units_acted_for(principal.agency)  # parties only, report readers included
    async with uow:
        rows = await uow.list_secondments(
            after=decode_cursor(cursor), limit=limit + 1, filters=filters, visible_units=visible
        )
        page, after = cut_page(rows, limit, lambda row: row[0])
        items = [SecondmentView.model_validate(body) for _, body in page]
        items = [await _opened(uow, item) for item in items]
    return Page[SecondmentView](items=items, next_cursor=after)


async def _opened(uow: PlacementUnitOfWork, item: SecondmentView) -> SecondmentView:
    """A listed secondment with its identity and free text opened from its events (as far as
    the keys allow: after an erasure they read as erased)."""
    s = await uow.secondments.get(str(item.secondment_id))
    return item if s is None else secondment_view(s)


class PersonalData(BaseModel):
    """Everything held about an official (an access request under the PDP law)."""

    official_id: str
    identity_erased: bool
    official: OfficialView | None
    secondments: list[SecondmentView]


class Erasure(BaseModel):
    """The outcome of an erasure request."""

    official_id: str
    erased: bool
    already_erased: bool
    secondments: int


async def _officials_secondments(uow: PlacementUnitOfWork, official_id: str) -> list[str]:
    rows = await uow.list_secondments(
        after=0, limit=10_000, filters={"official_id": official_id}, visible_units=None
    )
    return [str(body["secondment_id"]) for _, body in rows]


async def personal_data(
    principal: Principal, official_id: str, uow: PlacementUnitOfWork
) -> PersonalData:
    """Everything held about the official, until erasure (then the profile only)."""
    authorize(principal, Action.READ_PERSONAL_DATA)
    async with uow:
        ids = await _officials_secondments(uow, official_id)
        if not ids:
            raise NotFound("official", official_id)
        loaded = [await uow.secondments.get(sid) for sid in ids]
        views = [secondment_view(s) for s in loaded if s is not None]
    official = views[0].official
    return PersonalData(
        official_id=official_id,
        identity_erased=official.identity_erased,
        official=official,
        secondments=views,
    )


async def erase_official(
    principal: Principal, official_id: str, uow: PlacementUnitOfWork
) -> Erasure:
    """Delete the official's key: no API, export, event or replay can tell who they were
    any more, while every figure stays (the profile is sealed with the programme key)."""
    authorize(principal, Action.ERASE_PERSONAL_DATA)
    async with uow:
        ids = await _officials_secondments(uow, official_id)
        if not ids:
            raise NotFound("official", official_id)
        erased = await uow.vault.erase(official_id)
        await uow.redact_answers(official_id)
        await uow.commit()
    return Erasure(
        official_id=official_id, erased=True, already_erased=not erased, secondments=len(ids)
    )


async def on_need_event(envelope: CloudEvent, uow: PlacementUnitOfWork) -> None:
    """Keep the placement service's view of needs up to date, once per event."""
    await on_need_events([envelope], uow)


async def on_need_events(envelopes: Sequence[CloudEvent], uow: PlacementUnitOfWork) -> None:
    """The same for a batch of events (in partition order), in one transaction."""
    async with uow:
        fresh = await uow.claim_many(CONSUMER, envelopes)
        await uow.apply_need_events([(e.aggregateversion, read_event(e)) for e in fresh])
        await uow.commit()
