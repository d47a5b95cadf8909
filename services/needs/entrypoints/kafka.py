"""Commands of the needs service over Kafka (`RaiseNeed`, `AmendNeed`, `WithdrawNeed`): the
same handlers as `http.py`, with the agency of the topic as principal."""

from services.needs.domain.commands import AmendNeed, RaiseNeed, WithdrawNeed
from services.needs.service_layer import handlers
from services.needs.service_layer.ports import NeedsPorts
from services.needs.service_layer.views import NeedView
from shared.authz import Principal
from shared.clock import today
from shared.contract.commands import CommandType
from shared.infra.commands import CommandRoute, on_target
from shared.seedwork.ports import RequestContext


def command_routes(ports: NeedsPorts) -> dict[CommandType, CommandRoute]:
    """The needs service's commands, bound to one running service."""

    async def raise_need(
        who: Principal, _: str | None, cmd: RaiseNeed, ctx: RequestContext
    ) -> NeedView:
        return await handlers.raise_need(who, cmd, ports.uow(), ctx, today(), ports.phases)

    async def amend_need(
        who: Principal, need_id: str, cmd: AmendNeed, ctx: RequestContext
    ) -> NeedView:
        return await handlers.amend_need(who, need_id, cmd, ports.uow(), ctx, today(), ports.phases)

    async def withdraw_need(
        who: Principal, need_id: str, cmd: WithdrawNeed, ctx: RequestContext
    ) -> NeedView:
        return await handlers.withdraw_need(who, need_id, cmd, ports.uow(), ctx, today())

    return {
        CommandType.RAISE_NEED: CommandRoute(RaiseNeed, raise_need),
        CommandType.AMEND_NEED: CommandRoute(AmendNeed, on_target(amend_need)),
        CommandType.WITHDRAW_NEED: CommandRoute(WithdrawNeed, on_target(withdraw_need)),
    }
