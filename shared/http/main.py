"""Running one service on its own (the container mode): Kafka, PostgreSQL, uvicorn."""

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from shared.http.app import RunningService, compose_app
from shared.http.auth import TokenVerifier
from shared.http.limits import DEFAULT_MAX_BODY_BYTES, HttpLimitSettings
from shared.infra.audit import AuditLog
from shared.infra.kafka import KafkaTransport
from shared.infra.kafka_auth import NO_AUTH, KafkaAuth, TopicPolicy


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
    transport = KafkaTransport(
        bootstrap, client_id=name, auth=kafka_auth, topics=topics or TopicPolicy()
    )
    transport.declare(*produces)
    return compose_app(
        title, [build(transport)], transport, verifier, audit, max_body_bytes=max_body_bytes
    )


def serve(app: FastAPI, host: str, port: int, limits: HttpLimitSettings | None = None) -> None:
    """Serve until interrupted, within the service's HTTP limits."""
    config = (limits or HttpLimitSettings()).uvicorn_config(app, host, port)
    uvicorn.Server(config).run()
