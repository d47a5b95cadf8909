"""The three services as they run in production (Kafka, one PostgreSQL database each),
started in the test process so tests can drive them over HTTP."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from services.needs.__main__ import create_app as create_needs_app
from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from services.placement.__main__ import create_app as create_placement_app
from services.placement.config import PlacementSettings
from services.reporting.__main__ import create_app as create_reporting_app
from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from shared.contract.commands import CommandReply, commands_topic, replies_topic
from shared.http.app import compose_app
from shared.http.auth import TokenVerifier, load_issuers
from shared.infra.transport import InProcessBus
from tests.auth import TEST_KEYS, dev_issuer
from tests.infra import create_database, unique_name
from tests.samples import agency_command


@dataclass
class Deployment:
    """Where one test's system lives: a topic prefix, three databases and the audit store."""

    bootstrap: str
    prefix: str
    needs_db: str
    placement_db: str
    reporting_db: str
    audit_db: str
    vault_db: str = ""
    """The placement service's key vault, a database of its own (as deployed)."""

    def needs_settings(self) -> NeedsSettings:
        return NeedsSettings(
            database_url=self.needs_db,
            kafka_bootstrap=self.bootstrap,
            topic_prefix=self.prefix,
            auth_issuers_file=dev_issuer().issuers_file,
            audit_database_url=self.audit_db,
            programme_key=TEST_KEYS["programme_key"],
        )

    def placement_settings(self) -> PlacementSettings:
        return PlacementSettings(
            database_url=self.placement_db,
            kafka_bootstrap=self.bootstrap,
            topic_prefix=self.prefix,
            auth_issuers_file=dev_issuer().issuers_file,
            audit_database_url=self.audit_db,
            programme_key=TEST_KEYS["programme_key"],
            master_key=TEST_KEYS["master_key"],
            vault_url=self.vault_db or None,
        )

    def reporting_settings(self) -> ReportingSettings:
        return ReportingSettings(
            database_url=self.reporting_db,
            kafka_bootstrap=self.bootstrap,
            topic_prefix=self.prefix,
            auth_issuers_file=dev_issuer().issuers_file,
            audit_database_url=self.audit_db,
            programme_key=TEST_KEYS["programme_key"],
        )


async def new_deployment(bootstrap: str, pg_dsn: str) -> Deployment:
    """Fresh databases and topics, so tests never see each other's data."""
    tag = unique_name("t")
    return Deployment(
        bootstrap=bootstrap,
        prefix=f"{tag}.",
        needs_db=await create_database(pg_dsn, f"{tag}_needs"),
        placement_db=await create_database(pg_dsn, f"{tag}_placement"),
        reporting_db=await create_database(pg_dsn, f"{tag}_reporting"),
        audit_db=await create_database(pg_dsn, f"{tag}_audit"),
        vault_db=await create_database(pg_dsn, f"{tag}_vault"),
    )


def needs_app(d: Deployment) -> FastAPI:
    """The needs service exactly as `python -m services.needs` builds it."""
    return create_needs_app(d.needs_settings())


def placement_app(d: Deployment) -> FastAPI:
    """The placement service exactly as `python -m services.placement` builds it."""
    return create_placement_app(d.placement_settings())


def reporting_app(d: Deployment, service: ReportingService | None = None) -> FastAPI:
    """The reporting service; a test may hand in an instrumented service object."""
    if service is None:
        return create_reporting_app(d.reporting_settings())
    verifier = TokenVerifier(load_issuers(dev_issuer().issuers_file))
    return compose_app("reporting", [service], service.transport, verifier)


@contextlib.asynccontextmanager
async def needs_service(pg_dsn: str) -> AsyncIterator[NeedsService]:
    """The needs service on databases of its own, migrated and not started: its units of work
    without Kafka, a relay or consumers running beside them."""
    d = await new_deployment("unused:9092", pg_dsn)
    service = NeedsService(d.needs_settings(), InProcessBus())
    await service.migrate()
    try:
        yield service
    finally:
        await service.stop()


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan and hand back a client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client


T = TypeVar("T")


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """The records of `topic` so far (none while it does not exist)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=3000)
        return [r for records in batch.values() for r in records]
    finally:
        await consumer.stop()


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], within: float = 30.0
) -> T:
    """Poll until `accept(probe())` or fail with the last value seen."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value!r}")
        await asyncio.sleep(0.1)


@dataclass
class AgencyOnKafka:
    """An agency's own system: it writes commands to its topic and reads its replies."""

    code: str
    prefix: str
    producer: AIOKafkaProducer
    replies: dict[str, list[CommandReply]]

    async def send(
        self, kind: str, data: dict[str, Any], *, command_id: str | None = None, **attrs: Any
    ) -> str:
        """Write one command (CloudEvents, structured JSON); returns its id."""
        command_id = command_id or str(uuid4())
        await self.producer.send_and_wait(
            commands_topic(self.code, self.prefix),
            value=agency_command(self.code, kind, data, command_id, attrs),
            key=command_id.encode(),
        )
        return command_id

    async def reply(self, command_id: str, count: int = 1, within: float = 60.0) -> CommandReply:
        """The reply to a command (waiting for the `count`-th if it was sent again)."""
        replies = await eventually(
            lambda: _now(self.replies.get(command_id, [])),
            lambda got: len(got) >= count,
            within,
        )
        return replies[count - 1]


async def _now(value: list[CommandReply]) -> list[CommandReply]:
    return list(value)


async def _ensure(bootstrap: str, topics: list[str]) -> None:
    from shared.infra.kafka_auth import TopicPolicy
    from shared.infra.kafka_topics import ensure_topics

    # As deploy/kafka/acls.sh does: command topics keep records for the command retention.
    await ensure_topics(bootstrap, topics, retention_ms=TopicPolicy().command_retention_ms)


@contextlib.asynccontextmanager
async def agencies_on_kafka(d: Deployment, *codes: str) -> AsyncIterator[dict[str, AgencyOnKafka]]:
    """The agencies' commands and replies topics (created as an operator would), one producer
    and one consumer reading every agency's replies from the beginning."""
    topics = [t for c in codes for t in (commands_topic(c, d.prefix), replies_topic(c, d.prefix))]
    await _ensure(d.bootstrap, topics)
    producer = AIOKafkaProducer(bootstrap_servers=d.bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        *(replies_topic(c, d.prefix) for c in codes),
        bootstrap_servers=d.bootstrap,
        group_id=f"{d.prefix}agencies-under-test",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    replies: dict[str, dict[str, list[CommandReply]]] = {c: {} for c in codes}

    async def collect() -> None:
        async for record in consumer:
            agency = record.topic.rsplit(".", 1)[-1]
            reply = CommandReply.model_validate_json(record.value or b"")
            replies[agency].setdefault(reply.subject, []).append(reply)

    await producer.start()
    await consumer.start()
    task = asyncio.create_task(collect())
    try:
        yield {c: AgencyOnKafka(c, d.prefix, producer, replies[c]) for c in codes}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        await producer.stop()
