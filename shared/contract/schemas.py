"""The contract's JSON Schemas, generated from its models: what agencies validate against.

`shared.publishing.export` writes them under `docs/contract/schemas/`, and a test fails when
the committed files differ from these, so the published contract never drifts from the models.
"""

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from shared.contract.commands import (
    CommandAccepted,
    CommandEnvelope,
    CommandRejected,
    CommandReply,
)
from shared.contract.envelope import CloudEvent
from shared.contract.events import EVENT_TYPES, EventData
from shared.contract.topics import TOPIC_OF_EVENT

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://secondment.quangnam.gov.vn/contract/v1/"


def envelope_schema(model: type[BaseModel] = CloudEvent) -> dict[str, Any]:
    """The published JSON Schema of the CloudEvents envelope."""
    return {"$schema": SCHEMA_DIALECT, "$id": BASE_ID + "CloudEvent.json"} | (
        model.model_json_schema()
    )


def event_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """The published JSON Schema of one event's data (`x-topic`: the topic it travels on)."""
    head: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "$id": f"{BASE_ID}{name}.json"}
    if name in TOPIC_OF_EVENT:
        head["x-topic"] = TOPIC_OF_EVENT[name]
    return head | model.model_json_schema()


def event_schemas(
    models: Mapping[str, type[EventData]] = EVENT_TYPES,
) -> dict[str, dict[str, Any]]:
    """Event type → JSON Schema of its data."""
    return {name: event_schema(name, model) for name, model in models.items()}


def command_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema of the commands over Kafka: the envelope an agency writes, the
    reply envelope it reads and the two replies' data (docs/contract.md, Commands over Kafka)."""
    models: tuple[type[BaseModel], ...] = (
        CommandEnvelope,
        CommandReply,
        CommandAccepted,
        CommandRejected,
    )
    return {
        f"{m.__name__}.json": {"$schema": SCHEMA_DIALECT, "$id": f"{BASE_ID}{m.__name__}.json"}
        | m.model_json_schema()
        for m in models
    }


def schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, for the envelope, every event's data and the commands."""
    out: dict[str, dict[str, Any]] = {"CloudEvent.json": envelope_schema()}
    for name, schema in event_schemas().items():
        out[f"{name}.json"] = schema
    out.update(command_schemas())
    return out


def render(schema: dict[str, Any]) -> str:
    """Stable text form (sorted keys, UTF-8, trailing newline)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
