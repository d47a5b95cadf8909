"""Running one service on its own (the container mode): Kafka, PostgreSQL, uvicorn."""

import asyncio
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from fastapi import FastAPI

from shared.contract.topics import topic_name
from shared.http.app import RunningService, compose_app
from shared.http.auth import TokenVerifier
from shared.http.limits import DEFAULT_MAX_BODY_BYTES, HttpLimitSettings
from shared.http.server import Server
from shared.http.settings import BaseServiceSettings
from shared.infra import logs
from shared.infra.audit import AuditLog
from shared.infra.deployment import refuse_without_secrets
from shared.infra.kafka import KafkaTransport
from shared.infra.kafka_auth import NO_AUTH, KafkaAuth, TopicPolicy
from shared.infra.kafka_batches import BatchingKafkaTransport
from shared.infra.kafka_commands import CommandTopics

S = TypeVar("S", bound=BaseServiceSettings)
S_contra = TypeVar("S_contra", bound=BaseServiceSettings, contravariant=True)


class CommandingService(Protocol[S_contra]):
    """A service's class as `commanding_app` builds it: settings and transport, and the audit
    store and commands topics its agencies' commands go through."""

    def __call__(
        self,
        settings: S_contra,
        transport: KafkaTransport,
        /,
        *,
        audit: AuditLog,
        command_topics: CommandTopics,
    ) -> RunningService: ...


def kafka_app(
    title: str,
    name: str,
    bootstrap: str,
    build: Callable[[KafkaTransport], RunningService],
    produces: tuple[str, ...] = (),
    verifier: TokenVerifier | None = None,
    kafka_auth: KafkaAuth = NO_AUTH,
    audit: AuditLog | None = None,
    topics: TopicPolicy | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The app of one service talking to Kafka (as the principal `kafka_auth` names), writing
    the deployment's audit store."""
    # Events in batches, one transaction per fetch, a batch at a time (the services'
    # consumers keep per-record order across batches; reporting's overlap, hence its own).
    transport = BatchingKafkaTransport(
        bootstrap, client_id=name, auth=kafka_auth, topics=topics or TopicPolicy(), in_flight=1
    )
    transport.declare(*produces)
    return compose_app(
        title, [build(transport)], transport, verifier, audit, max_body_bytes=max_body_bytes
    )


def commanding_app(name: str, settings: S, produces: str, service: CommandingService[S]) -> FastAPI:
    """`kafka_app` for a service that publishes the topic `produces` (its base name) and takes
    the agencies' commands: `service` is built with the transport, the audit store and the
    commands topics, all configured from `settings` (its principal, topic policy and prefix)."""
    audit = settings.audit_log()
    commands = CommandTopics(
        settings.kafka_bootstrap,
        name,
        prefix=settings.topic_prefix,
        auth=settings.kafka_auth(),
        topics=settings.kafka_topic_policy(),
    )
    return kafka_app(
        name,
        name,
        settings.kafka_bootstrap,
        lambda transport: service(settings, transport, audit=audit, command_topics=commands),
        produces=(topic_name(produces, settings.topic_prefix),),
        verifier=settings.verifier(),
        kafka_auth=settings.kafka_auth(),
        audit=audit,
        topics=settings.kafka_topic_policy(),
        max_body_bytes=settings.max_body_bytes,
    )


USAGE = "usage: python -m services.{name} [serve | migrate]"


def run_service(
    name: str,
    settings: S,
    secrets: Iterable[str],
    create_app: Callable[[S], FastAPI],
    argv: Sequence[str] | None = None,
) -> None:
    """`python -m services.<name> [serve]`: refuse to start without the `secrets` (field names)
    outside the embedded shape, then serve the app on the settings' host and port until
    interrupted. `… migrate`: bring the service's databases to their newest revisions and exit
    (a deployment's migration step; serving migrates too, so it is never required)."""
    command = list(sys.argv[1:] if argv is None else argv) or ["serve"]
    if command not in (["serve"], ["migrate"]):
        raise SystemExit(USAGE.format(name=name))
    logs.configure(name)
    refuse_without_secrets(name, settings, secrets, kafka=command == ["serve"])
    app = create_app(settings)
    if command == ["migrate"]:
        asyncio.run(migrate_only(app))
        return
    serve(app, settings.http_host, settings.http_port, settings)


async def migrate_only(app: FastAPI) -> None:
    """Migrate every database of the app's services (nothing else starts: no relay, no
    consumer, no Kafka), then close them."""
    services: list[RunningService] = app.state.services
    try:
        for service in services:
            await service.migrate()
    finally:
        for service in services:
            await service.stop()


def serve(app: FastAPI, host: str, port: int, limits: HttpLimitSettings | None = None) -> None:
    """Serve until interrupted, within the service's HTTP limits."""
    config = (limits or HttpLimitSettings()).uvicorn_config(app, host, port)
    Server(config).run()
