"""Export the contract's JSON Schemas and AsyncAPI document:
`python -m shared.contract.export docs/contract` (part of `make contract`).

A test regenerates them in memory and fails when the committed files differ, so the
published contract can never drift from the models.
"""

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

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
    from shared.contract.commands import (
        CommandAccepted,
        CommandEnvelope,
        CommandRejected,
        CommandReply,
    )

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


def render_yaml(document: dict[str, Any]) -> str:
    """Stable YAML text: keys in the document's order, UTF-8, no anchors, multi-line text as
    literal blocks."""
    import yaml  # a development dependency: `make contract` runs in the development venv

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)


def documents() -> dict[str, str]:
    """Path under `docs/contract/` → text, for every file generated from `shared.contract`
    (the services' OpenAPI documents are written by `services.openapi`)."""
    from shared.contract.asyncapi import asyncapi_document

    out = {f"schemas/{name}": render(schema) for name, schema in schemas().items()}
    out["asyncapi.yaml"] = render_yaml(asyncapi_document())
    return out


def write(target: Path) -> list[Path]:
    """Write the JSON Schemas under `target/schemas/` (removing those of events that no
    longer exist) and the AsyncAPI document as `target/asyncapi.yaml`."""
    generated = documents()
    stale = {p for p in (target / "schemas").glob("*.json")} - {target / n for n in generated}
    for path in stale:
        path.unlink()
    written = []
    for name, text in generated.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contract")):
        print(path)
