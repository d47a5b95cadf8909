"""`GET /api/contract/…`: the published contract, served by every service so that agencies
can code against it without reading our source: the AsyncAPI document of the topics and
events, and the JSON Schemas of the envelope and of every event's data.

Public like `/openapi.json`: the contract holds no records. Built from `shared.contract`, the
same code `make contract` writes `docs/contract/` from.
"""

import functools
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from shared.contract.events import EVENT_TYPES
from shared.contract.schemas import schemas
from shared.http.problems import PROBLEM_MEMBERS, problem_responses
from shared.seedwork.errors import NotFound


class SchemaJSONResponse(JSONResponse):
    """A JSON Schema document (RFC draft `application/schema+json`)."""

    media_type = "application/schema+json"


_PROBLEM: Final[dict[int | str, dict[str, Any]]] = {
    404: {
        "description": "No event of that type (problem details, rule `NOT_FOUND`).",
        "content": {
            "application/problem+json": {
                "schema": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail", "rule"],
                    "properties": {
                        **PROBLEM_MEMBERS,
                        "rule": {"type": "string", "enum": ["NOT_FOUND"]},
                    },
                }
            }
        },
    }
}

EventType = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z][A-Za-z0-9]*$",
        max_length=64,
        description="The event's CloudEvents `type`, e.g. `NeedRaised`.",
        examples=["NeedRaised"],
    ),
]


@functools.cache
def _asyncapi() -> dict[str, Any]:
    from shared.publishing.asyncapi import asyncapi_document

    return asyncapi_document()


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    return schemas()


def build_contract_router() -> APIRouter:
    """Read-only routes over `shared.contract`."""
    router = APIRouter(prefix="/api/contract", tags=["contract"], responses=problem_responses(422))

    @router.get("/asyncapi.json", response_model=dict[str, Any])
    async def asyncapi() -> dict[str, Any]:
        """AsyncAPI 3.0 document of contract v1: topics, producers, consumer groups, and
        every event with its CloudEvents schema and an example."""
        return _asyncapi()

    @router.get("/events", response_model=list[str])
    async def event_types() -> list[str]:
        """The event types of contract v1; each has a JSON Schema at
        `/api/contract/events/{type}.schema.json`."""
        return list(EVENT_TYPES)

    @router.get(
        "/envelope.schema.json",
        response_model=dict[str, Any],
        response_class=SchemaJSONResponse,
    )
    async def envelope_schema() -> dict[str, Any]:
        """JSON Schema (2020-12) of the CloudEvents envelope every event travels in."""
        return _schemas()["CloudEvent.json"]

    @router.get(
        "/events/{event_type}.schema.json",
        response_model=dict[str, Any],
        response_class=SchemaJSONResponse,
        responses=_PROBLEM,
    )
    async def event_schema(event_type: EventType) -> dict[str, Any]:
        """JSON Schema (2020-12) of one event's `data`; `x-topic` names its topic."""
        if event_type not in EVENT_TYPES:
            raise NotFound("event type", event_type)
        return _schemas()[f"{event_type}.json"]

    return router
