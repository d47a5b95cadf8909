"""OpenAPI documents of the three HTTP services, as each serves it at `/openapi.json`:
`python -m services.openapi docs/contract` writes `docs/contract/openapi/{service}.json`
(part of `make contract`; a test fails when the committed files differ from the code).

Each app is built exactly as `python -m services.<name>` builds it, but never started:
nothing connects to a database or a broker before the app's lifespan starts.
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI

from shared.publishing.export import write_documents

UNUSED_DATABASE: Final = "sqlite+aiosqlite:///:memory:"
"""Settings need a database URL; building the app never opens it."""


def _needs() -> FastAPI:
    from services.needs.__main__ import create_app
    from services.needs.config import NeedsSettings

    return create_app(NeedsSettings(database_url=UNUSED_DATABASE))


def _placement() -> FastAPI:
    from services.placement.__main__ import create_app
    from services.placement.config import PlacementSettings

    return create_app(PlacementSettings(database_url=UNUSED_DATABASE))


def _reporting() -> FastAPI:
    from services.reporting.__main__ import create_app
    from services.reporting.config import ReportingSettings

    return create_app(ReportingSettings(database_url=UNUSED_DATABASE))


SERVICES: Final[dict[str, Callable[[], FastAPI]]] = {
    "needs": _needs,
    "placement": _placement,
    "reporting": _reporting,
}
"""Service name → how its app is built."""


def openapi(service: str) -> dict[str, Any]:
    """The OpenAPI document `service` serves."""
    document: dict[str, Any] = SERVICES[service]().openapi()
    return document


def render(document: dict[str, Any]) -> str:
    """Stable text form (FastAPI's order, UTF-8, trailing newline)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def documents() -> dict[str, str]:
    """Path under `docs/contract/` → text, for every service."""
    return {f"openapi/{name}.json": render(openapi(name)) for name in SERVICES}


def write(target: Path) -> list[Path]:
    """Write `target/openapi/{service}.json` for every service."""
    return write_documents(target, documents())


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contract")):
        print(path)
