"""Export the contract's JSON Schemas and AsyncAPI document:
`python -m shared.publishing.export docs/contract` (part of `make contract`).

Publishing is tooling, apart from the contract: the AsyncAPI document is built with
FastStream's Kafka broker, which the contract package must not import (agencies take the
contract without the platform). A test regenerates both in memory and fails when the
committed files differ.
"""

import sys
from pathlib import Path
from typing import Any

from shared.contract.schemas import render, schemas
from shared.publishing.asyncapi import asyncapi_document


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
    out = {f"schemas/{name}": render(schema) for name, schema in schemas().items()}
    out["asyncapi.yaml"] = render_yaml(asyncapi_document())
    return out


def write_documents(target: Path, generated: dict[str, str]) -> list[Path]:
    """Write each generated document (path under `target` → text); the written paths."""
    written = []
    for name, text in generated.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def write(target: Path) -> list[Path]:
    """Write the JSON Schemas under `target/schemas/` (removing those of events that no
    longer exist) and the AsyncAPI document as `target/asyncapi.yaml`."""
    generated = documents()
    stale = {p for p in (target / "schemas").glob("*.json")} - {target / n for n in generated}
    for path in stale:
        path.unlink()
    return write_documents(target, generated)


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contract")):
        print(path)
