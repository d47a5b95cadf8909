"""The commands on an existing secondment, bound once to a running service: the HTTP routes
(`POST /api/secondments/{id}/<step>`) and the Kafka command routes run these same calls."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from services.placement.domain.commands import (
    ArrangePostSecondment,
    CancelSecondment,
    EndSecondment,
    ExtendSecondment,
    RecordPromotionAfterReturn,
    RecordReception,
)
from services.placement.service_layer import handlers
from services.placement.service_layer.ports import PlacementPorts
from services.placement.service_layer.views import SecondmentView
from shared.authz import Action, Principal
from shared.clock import today
from shared.seedwork.ports import RequestContext

Run = Callable[[Principal, str, Any, RequestContext], Awaitable[SecondmentView]]
"""(principal, secondment id, the command, context) → the secondment after it."""


@dataclass(frozen=True)
class Transition:
    """One command on an existing secondment."""

    step: str
    """The HTTP path below the secondment, and (`-` as `_`) the route's name."""
    action: Action
    """The policy's action, also the Kafka command type."""
    command: type[BaseModel]
    doc: str
    """The HTTP route's description."""
    run: Run


def transitions(ports: PlacementPorts) -> tuple[Transition, ...]:
    """The commands on an existing secondment, in the order the HTTP API lists them."""
    return (
        Transition(
            "reception", Action.RECORD_RECEPTION, RecordReception,
            "The host received the official and assigned work.",
            lambda who, sid, cmd, ctx: handlers.record_reception(who, sid, cmd, ports.uow(), ctx),
        ),
        Transition(
            "extension", Action.EXTEND_SECONDMENT, ExtendSecondment,
            "Move the planned end later by decision, within the cap.",
            lambda who, sid, cmd, ctx: handlers.extend_secondment(
                who, sid, cmd, ports.uow(), ctx, ports.phases
            ),
        ),
        Transition(
            "ending", Action.END_SECONDMENT, EndSecondment,
            "End the secondment by decision with the host's rating; `ENDED`.",
            lambda who, sid, cmd, ctx: handlers.end_secondment(who, sid, cmd, ports.uow(), ctx),
        ),
        Transition(
            "post-arrangement", Action.ARRANGE_POST_SECONDMENT, ArrangePostSecondment,
            "Record the official's post after the secondment.",
            lambda who, sid, cmd, ctx: handlers.arrange_post(who, sid, cmd, ports.uow(), ctx),
        ),
        Transition(
            "promotion", Action.RECORD_PROMOTION_AFTER_RETURN, RecordPromotionAfterReturn,
            "Record a promotion after the return: above the rank at secondment and every "
            "earlier promotion, not before the post arrangement.",
            lambda who, sid, cmd, ctx: handlers.record_promotion_after_return(
                who, sid, cmd, ports.uow(), ctx
            ),
        ),
        Transition(
            "cancellation", Action.CANCEL_SECONDMENT, CancelSecondment,
            "Void a record entered by mistake: frees its position, leaves the reports.",
            lambda who, sid, cmd, ctx: handlers.cancel_secondment(
                who, sid, cmd, ports.uow(), ctx, today()
            ),
        ),
    )  # fmt: skip
