"""`python -m services.reporting`: projections and dashboard on Kafka and PostgreSQL."""

from fastapi import FastAPI

from services.reporting.bootstrap import ReportingService
from services.reporting.config import ReportingSettings
from shared.http.main import kafka_app, serve


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    """The reporting service's app (uvicorn factory)."""
    s = settings or ReportingSettings()
    return kafka_app("reporting", "reporting", s.kafka_bootstrap, lambda t: ReportingService(s, t))


if __name__ == "__main__":
    settings = ReportingSettings()
    serve(create_app(settings), settings.http_host, settings.http_port)
