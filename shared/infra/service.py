"""The lifecycle the services that take agencies' commands share (needs, placement): their
runtime (database, outbox relay) and, with Kafka, the commands topics, taken only once the
relay runs and let go before it stops."""

from collections.abc import Mapping

from sqlalchemy import Table

from shared.contract.commands import CommandType
from shared.infra.answers import CommandAnswers
from shared.infra.audit import AuditLog
from shared.infra.commands import CommandProcessor, CommandRoute
from shared.infra.kafka_commands import CommandTopics, take_commands
from shared.infra.runtime import ServiceRuntime


class CommandTakingService:
    """Base of a running service whose `__init__` sets `runtime` and `answers`, then calls
    `_take_commands`."""

    runtime: ServiceRuntime
    answers: CommandAnswers
    """Answers remembered for `Idempotency-Key`s (and command ids over Kafka)."""
    command_topics: CommandTopics | None
    commands: CommandProcessor
    """The agencies' commands of this service, when taken (`command_topics`)."""

    def _take_commands(
        self,
        command_topics: CommandTopics | None,
        topic_prefix: str,
        group: str,
        *,
        source: str,
        routes: Mapping[CommandType, CommandRoute],
        outbox: Table,
        audit: AuditLog | None,
        rejects_unknown_types: bool,
    ) -> None:
        """With `command_topics` (Kafka), the agencies' commands of this service are consumed
        and answered; `audit` records them."""
        self.command_topics = command_topics
        if command_topics is not None:
            self.commands = take_commands(
                command_topics,
                self.runtime,
                topic_prefix,
                group,
                source=source,
                routes=routes,
                answers=self.answers,
                outbox=outbox,
                audit=audit,
                rejects_unknown_types=rejects_unknown_types,
            )

    async def migrate(self) -> None:
        """Bring the database to the newest revision."""
        await self.runtime.migrate()

    async def start(self) -> None:
        """Migrate, start the outbox relay, then take the agencies' commands."""
        await self.runtime.start()
        if self.command_topics is not None:
            await self.command_topics.start()

    async def stop(self) -> None:
        """Stop taking commands, stop the relay and close the database."""
        if self.command_topics is not None:
            await self.command_topics.stop()
        await self.runtime.stop()

    async def ready(self) -> bool:
        """The database answers."""
        return await self.runtime.database_ready()
