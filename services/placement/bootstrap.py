"""Composition root of the placement service."""

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from services.placement.adapters.answer_identity import SealedIdentities
from services.placement.adapters.intake import IntakeKey
from services.placement.adapters.plans import SqlPlansUnitOfWork
from services.placement.adapters.tables import command_answers, core
from services.placement.adapters.unit_of_work import SqlPlacementUnitOfWork
from services.placement.adapters.vault import KeyVault, adopt_keys
from services.placement.config import PlacementSettings
from services.placement.entrypoints.http import build_router
from services.placement.entrypoints.kafka import command_routes
from services.placement.entrypoints.officials import (
    build_intake_router,
    build_officials_router,
)
from services.placement.entrypoints.plans import build_plans_router
from services.placement.service_layer import handlers
from services.placement.service_layer.ports import PlacementPorts, PlanPorts
from shared.contract.envelope import CloudEvent
from shared.contract.topics import NEEDS_TOPIC, PLACEMENT_SOURCE, topic_name
from shared.infra.answers import CommandAnswers
from shared.infra.audit import AuditLog
from shared.infra.kafka_commands import CommandTopics
from shared.infra.personal_data import PersonalDataCodec
from shared.infra.runtime import ServiceRuntime
from shared.infra.service import CommandTakingService
from shared.infra.transport import CONSUMER_BATCH, Transport, subscribe_events
from shared.phases import DEFAULT_PHASES, Phase

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
VAULT_MIGRATIONS = Path(__file__).parent / "vault_migrations"


class PlacementService(CommandTakingService):
    """The running placement service."""

    def __init__(
        self,
        settings: PlacementSettings,
        transport: Transport,
        phases: Sequence[Phase] = DEFAULT_PHASES,
        *,
        audit: AuditLog | None = None,
        command_topics: CommandTopics | None = None,
    ) -> None:
        """With `command_topics` (Kafka), the agencies' commands of this service are consumed
        and answered; `audit` records them."""
        self.settings = settings
        self.runtime = ServiceRuntime.for_service(
            "placement", settings.database_url, MIGRATIONS, core, transport
        )
        codec = settings.personal_data_codec()
        masters = settings.master_keys()
        master = masters.current if masters is not None else None
        self.vault_url = settings.vault_database_url()
        self.vault = KeyVault.open(self.vault_url, masters) if masters is not None else None
        """The officials' keys, in their own store (`PLACEMENT_VAULT_URL`)."""
        vault = self.vault
        self.answers = CommandAnswers(
            self.runtime.sessions,
            command_answers,
            SealedIdentities(vault) if vault is not None else None,
        )
        """Answers remembered for `Idempotency-Key`s (and command ids over Kafka), officials'
        identities sealed."""

        def sealing(session: AsyncSession) -> PersonalDataCodec:
            if vault is None:
                raise RuntimeError(
                    "PLACEMENT_MASTER_KEY is not set: personal data cannot be sealed"
                )
            return codec.with_identity_keys(vault.for_command(session))

        needs_topic = topic_name(NEEDS_TOPIC, settings.topic_prefix)
        group = settings.group
        self.ports = PlacementPorts(
            uow=partial(
                SqlPlacementUnitOfWork,
                self.runtime.sessions,
                topic_prefix=settings.topic_prefix,
                on_commit=self.runtime.wake,
                codec=sealing,
                vault=vault,
            ),
            phases=phases,
            needs_caught_up=lambda: transport.caught_up(needs_topic, group),
            intake=IntakeKey.configured(settings.intake_key, master),
        )
        self.plan_ports = PlanPorts(
            uow=partial(
                SqlPlansUnitOfWork,
                self.runtime.sessions,
                core,
                topic_prefix=settings.topic_prefix,
                on_commit=self.runtime.wake,
            ),
            phases=phases,
        )
        """The locality secondment plans: same database, outbox and remembered answers."""
        subscribe_events(
            transport,
            needs_topic,
            group,
            self._on_need_event,
            self._on_need_events,
            max_records=CONSUMER_BATCH,
        )

        self._take_commands(
            command_topics,
            settings.topic_prefix,
            group,
            source=PLACEMENT_SOURCE,
            routes=command_routes(self.ports),
            outbox=core.outbox,
            audit=audit,
            rejects_unknown_types=False,
        )

    async def _on_need_event(self, envelope: CloudEvent) -> None:
        await handlers.on_need_event(envelope, self.ports.uow())

    async def _on_need_events(self, envelopes: Sequence[CloudEvent]) -> None:
        await handlers.on_need_events(envelopes, self.ports.uow())

    @property
    def routers(self) -> list[APIRouter]:
        """HTTP routes of this service."""
        return [
            build_router(self.ports),
            build_officials_router(self.ports),
            build_intake_router(self.ports),
            build_plans_router(self.plan_ports),
        ]

    async def migrate(self) -> None:
        """Bring the database and the key vault to their newest revisions."""
        await super().migrate()
        await self._migrate_vault()

    async def _migrate_vault(self) -> None:
        """The vault's own history; keys the service database still holds from before the
        vault had a store of its own move there (and are scrubbed from it)."""
        if self.vault is None:
            return
        await self.vault.migrate()
        if self.vault_url != self.settings.database_url:
            await self.runtime.migrate()
            moved = await adopt_keys(self.vault, self.runtime.engine)
            if moved:
                log.warning("moved %d officials' keys into the key vault's own store", moved)

    async def start(self) -> None:
        """Migrate, start the outbox relay, then take the agencies' commands."""
        await self._migrate_vault()
        await super().start()

    async def stop(self) -> None:
        """Stop taking commands, stop the relay and close the database."""
        await super().stop()
        if self.vault is not None:
            await self.vault.close()
