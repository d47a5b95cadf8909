"""Export the contract's JSON Schemas: `python -m shared.contract.export docs/contract`.

A test regenerates them in memory and fails when the committed files differ, so the
published schemas can never drift from the models.
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


def schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, for the envelope and every event's data."""
    out: dict[str, dict[str, Any]] = {"CloudEvent.json": envelope_schema()}
    for name, schema in event_schemas().items():
        out[f"{name}.json"] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    """Stable text form (sorted keys, UTF-8, trailing newline)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(target: Path) -> list[Path]:
    """Write every schema under `target/schemas/`."""
    folder = target / "schemas"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = folder / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contract")):
        print(path)
