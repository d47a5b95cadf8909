"""`python -m services.reporting`: projections and dashboard on Kafka and PostgreSQL."""

from fastapi import FastAPI

from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from shared.http.app import compose_app
from shared.http.main import serve
from shared.infra.kafka import BatchingKafkaTransport


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    """The reporting service's app (uvicorn factory): projections consume in batches."""
    s = settings or ReportingSettings()
    transport = BatchingKafkaTransport(s.kafka_bootstrap, client_id="reporting")
    return compose_app("reporting", [ReportingService(s, transport)], transport)


if __name__ == "__main__":
    settings = ReportingSettings()
    serve(create_app(settings), settings.http_host, settings.http_port)
