"""Commands of the placement service over Kafka (`SecondOfficial`, `RecordReception`,
`ExtendSecondment`, `EndSecondment`, `ArrangePostSecondment`, `RecordPromotionAfterReturn`,
`CancelSecondment`): the same handlers as `http.py`, with the agency of the topic as
principal."""

from services.placement.domain.commands import SecondOfficial
from services.placement.entrypoints.transitions import transitions
from services.placement.service_layer import handlers
from services.placement.service_layer.ports import PlacementPorts
from services.placement.service_layer.views import SecondmentView
from shared.authz import Principal
from shared.contract.commands import CommandType
from shared.infra.commands import CommandRoute, on_target
from shared.seedwork.ports import RequestContext


def command_routes(ports: PlacementPorts) -> dict[CommandType, CommandRoute]:
    """The placement service's commands, bound to one running service."""

    async def second(
        who: Principal, _: str | None, cmd: SecondOfficial, ctx: RequestContext
    ) -> SecondmentView:
        return await handlers.second_official(
            who, cmd, ports.uow(), ctx, ports.phases, ports.needs_caught_up, ports.intake
        )

    return {
        CommandType.SECOND_OFFICIAL: CommandRoute(SecondOfficial, second),
        **{
            CommandType(t.action): CommandRoute(t.command, on_target(t.run))
            for t in transitions(ports)
        },
    }
