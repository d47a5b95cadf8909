"""`python -m services.placement`: the placement service on Kafka and its database."""

from fastapi import FastAPI

from services.placement.bootstrap import PlacementService
from services.placement.config import PlacementSettings
from shared.contract.topics import PLACEMENTS_TOPIC
from shared.http.main import commanding_app, run_service


def create_app(settings: PlacementSettings | None = None) -> FastAPI:
    """The placement service's app (uvicorn factory)."""
    return commanding_app(
        "placement", settings or PlacementSettings(), PLACEMENTS_TOPIC, PlacementService
    )


if __name__ == "__main__":
    run_service("placement", PlacementSettings(), ("programme_key", "master_key"), create_app)
