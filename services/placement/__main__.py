"""`python -m services.placement`: the placement service on Kafka and its database."""

from fastapi import FastAPI

from services.placement.bootstrap import PlacementService
from services.placement.config import PlacementSettings
from shared.contract.topics import PLACEMENTS_TOPIC, topic_name
from shared.http.main import kafka_app, serve
from shared.infra.deployment import refuse_without_secrets
from shared.infra.kafka_commands import CommandTopics


def create_app(settings: PlacementSettings | None = None) -> FastAPI:
    """The placement service's app (uvicorn factory)."""
    s = settings or PlacementSettings()
    audit = s.audit_log()
    commands = CommandTopics(
        s.kafka_bootstrap,
        "placement",
        prefix=s.topic_prefix,
        auth=s.kafka_auth(),
        topics=s.kafka_topic_policy(),
    )
    return kafka_app(
        "placement",
        "placement",
        s.kafka_bootstrap,
        lambda t: PlacementService(s, t, audit=audit, command_topics=commands),
        produces=(topic_name(PLACEMENTS_TOPIC, s.topic_prefix),),
        verifier=s.verifier(),
        kafka_auth=s.kafka_auth(),
        audit=audit,
        topics=s.kafka_topic_policy(),
        max_body_bytes=s.max_body_bytes,
    )


if __name__ == "__main__":
    settings = PlacementSettings()
    refuse_without_secrets("placement", settings, ("programme_key", "master_key"))
    serve(create_app(settings), settings.http_host, settings.http_port, settings)
