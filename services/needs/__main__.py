"""`python -m services.needs`: the needs service on Kafka and its database."""

from fastapi import FastAPI

from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from shared.contract.topics import NEEDS_TOPIC
from shared.http.main import commanding_app, run_service


def create_app(settings: NeedsSettings | None = None) -> FastAPI:
    """The needs service's app (uvicorn factory)."""
    return commanding_app("needs", settings or NeedsSettings(), NEEDS_TOPIC, NeedsService)


if __name__ == "__main__":
    run_service("needs", NeedsSettings(), ("programme_key",), create_app)
