"""Commands of the placement service over Kafka (`SecondOfficial`, `RecordReception`,
`ExtendSecondment`, `EndSecondment`, `ArrangePostSecondment`, `CancelSecondment`): the same
handlers as `http.py`, with the agency of the topic as principal."""

from services.placement.domain.commands import (
    ArrangePostSecondment,
    CancelSecondment,
    EndSecondment,
    ExtendSecondment,
    RecordReception,
    SecondOfficial,
)
from services.placement.service_layer import handlers
from services.placement.service_layer.ports import PlacementPorts
from services.placement.service_layer.views import SecondmentView
from shared.authz import Principal
from shared.clock import today
from shared.contract.commands import CommandType
from shared.infra.commands import CommandRoute
from shared.seedwork.ports import RequestContext


def command_routes(ports: PlacementPorts) -> dict[CommandType, CommandRoute]:
    """The placement service's commands, bound to one running service."""

    async def second(
        who: Principal, _: str | None, cmd: SecondOfficial, ctx: RequestContext
    ) -> SecondmentView:
        return await handlers.second_official(
            who, cmd, ports.uow(), ctx, ports.phases, ports.needs_caught_up, ports.intake
        )

    async def receive(
        who: Principal, sid: str | None, cmd: RecordReception, ctx: RequestContext
    ) -> SecondmentView:
        assert sid is not None
        return await handlers.record_reception(who, sid, cmd, ports.uow(), ctx)

    async def extend(
        who: Principal, sid: str | None, cmd: ExtendSecondment, ctx: RequestContext
    ) -> SecondmentView:
        assert sid is not None
        return await handlers.extend_secondment(who, sid, cmd, ports.uow(), ctx, ports.phases)

    async def end(
        who: Principal, sid: str | None, cmd: EndSecondment, ctx: RequestContext
    ) -> SecondmentView:
        assert sid is not None
        return await handlers.end_secondment(who, sid, cmd, ports.uow(), ctx)

    async def arrange(
        who: Principal, sid: str | None, cmd: ArrangePostSecondment, ctx: RequestContext
    ) -> SecondmentView:
        assert sid is not None
        return await handlers.arrange_post(who, sid, cmd, ports.uow(), ctx)

    async def cancel(
        who: Principal, sid: str | None, cmd: CancelSecondment, ctx: RequestContext
    ) -> SecondmentView:
        assert sid is not None
        return await handlers.cancel_secondment(who, sid, cmd, ports.uow(), ctx, today())

    return {
        CommandType.SECOND_OFFICIAL: CommandRoute(SecondOfficial, second),
        CommandType.RECORD_RECEPTION: CommandRoute(RecordReception, receive),
        CommandType.EXTEND_SECONDMENT: CommandRoute(ExtendSecondment, extend),
        CommandType.END_SECONDMENT: CommandRoute(EndSecondment, end),
        CommandType.ARRANGE_POST_SECONDMENT: CommandRoute(ArrangePostSecondment, arrange),
        CommandType.CANCEL_SECONDMENT: CommandRoute(CancelSecondment, cancel),
    }
