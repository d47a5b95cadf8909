"""Composition root of the needs service: adapters chosen by settings, wired once."""

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from fastapi import APIRouter

from services.needs.adapters.tables import command_answers, core
from services.needs.adapters.unit_of_work import SqlNeedsUnitOfWork
from services.needs.config import NeedsSettings
from services.needs.entrypoints.http import build_router
from services.needs.entrypoints.kafka import command_routes
from services.needs.service_layer import handlers
from services.needs.service_layer.ports import NeedsPorts
from shared.contract.envelope import CloudEvent
from shared.contract.topics import NEEDS_SOURCE, NEEDS_TOPIC, PLACEMENTS_TOPIC, topic_name
from shared.infra.answers import CommandAnswers
from shared.infra.audit import AuditLog
from shared.infra.kafka_commands import CommandTopics
from shared.infra.runtime import ServiceRuntime
from shared.infra.service import CommandTakingService
from shared.infra.transport import CONSUMER_BATCH, Transport, subscribe_events
from shared.phases import DEFAULT_PHASES, Phase

MIGRATIONS = Path(__file__).parent / "migrations"


class NeedsService(CommandTakingService):
    """The running needs service: database, relay, consumers and routes."""

    def __init__(
        self,
        settings: NeedsSettings,
        transport: Transport,
        phases: Sequence[Phase] = DEFAULT_PHASES,
        *,
        audit: AuditLog | None = None,
        command_topics: CommandTopics | None = None,
    ) -> None:
        """With `command_topics` (Kafka), the agencies' commands of this service are consumed
        and answered; `audit` records them."""
        self.settings = settings
        self.codec = settings.personal_data_codec()
        self.runtime = ServiceRuntime.for_service(
            "needs", settings.database_url, MIGRATIONS, core, transport
        )
        self.answers = CommandAnswers(self.runtime.sessions, command_answers)
        self.ports = NeedsPorts(
            uow=partial(
                SqlNeedsUnitOfWork,
                self.runtime.sessions,
                topic_prefix=settings.topic_prefix,
                on_commit=self.runtime.wake,
            ),
            phases=phases,
        )
        self.topic = topic_name(NEEDS_TOPIC, settings.topic_prefix)
        placements = topic_name(PLACEMENTS_TOPIC, settings.topic_prefix)
        subscribe_events(
            transport,
            placements,
            settings.group,
            self._on_placement_event,
            self._on_placement_events,
            max_records=CONSUMER_BATCH,
        )

        self._take_commands(
            command_topics,
            settings.topic_prefix,
            settings.group,
            source=NEEDS_SOURCE,
            routes=command_routes(self.ports),
            outbox=core.outbox,
            audit=audit,
            rejects_unknown_types=True,
        )

    async def _on_placement_event(self, envelope: CloudEvent) -> None:
        opened = await self.codec.open(envelope)
        await handlers.on_placement_event(opened, self.ports.uow())

    async def _on_placement_events(self, envelopes: Sequence[CloudEvent]) -> None:
        opened = [await self.codec.open(e) for e in envelopes]
        await handlers.on_placement_events(opened, self.ports.uow())

    @property
    def routers(self) -> list[APIRouter]:
        """HTTP routes of this service."""
        return [build_router(self.ports)]
