"""`python -m services.needs`: the needs service on Kafka and its database."""

from fastapi import FastAPI

from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from shared.contract.topics import NEEDS_TOPIC, topic_name
from shared.http.main import kafka_app, serve
from shared.infra.deployment import refuse_without_secrets
from shared.infra.kafka_commands import CommandTopics


def create_app(settings: NeedsSettings | None = None) -> FastAPI:
    """The needs service's app (uvicorn factory)."""
    s = settings or NeedsSettings()
    audit = s.audit_log()
    commands = CommandTopics(
        s.kafka_bootstrap,
        "needs",
        prefix=s.topic_prefix,
        auth=s.kafka_auth(),
        topics=s.kafka_topic_policy(),
    )
    return kafka_app(
        "needs",
        "needs",
        s.kafka_bootstrap,
        lambda t: NeedsService(s, t, audit=audit, command_topics=commands),
        produces=(topic_name(NEEDS_TOPIC, s.topic_prefix),),
        verifier=s.verifier(),
        kafka_auth=s.kafka_auth(),
        audit=audit,
        topics=s.kafka_topic_policy(),
        max_body_bytes=s.max_body_bytes,
    )


if __name__ == "__main__":
    settings = NeedsSettings()
    refuse_without_secrets("needs", settings, ("programme_key",))
    serve(create_app(settings), settings.http_host, settings.http_port, settings)
