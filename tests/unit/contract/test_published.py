"""The published contract: the committed AsyncAPI and OpenAPI documents are exactly what the
code produces, the AsyncAPI document describes every topic and event with valid examples,
and every service serves the contract under `/api/contract/`.
"""

import functools
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services import openapi
from shared.contract.envelope import read_event
from shared.contract.events import EVENT_TYPES
from shared.contract.examples import EXAMPLES, example_envelope
from shared.contract.schemas import render, schemas
from shared.contract.topics import TOPIC_OF_EVENT
from shared.publishing.asyncapi import CONSUMERS, asyncapi_document, envelope_model
from shared.publishing.export import documents

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "contract"
RERUN = "run `make contract` and review the change"


@functools.cache
def generated() -> dict[str, str]:
    return documents()


@functools.cache
def app_of(service: str) -> FastAPI:
    return openapi.SERVICES[service]()


def test_the_committed_asyncapi_document_matches_the_code() -> None:
    committed = CONTRACT / "asyncapi.yaml"
    assert committed.exists(), f"{committed} is missing: {RERUN}"
    assert committed.read_text(encoding="utf-8") == generated()["asyncapi.yaml"], (
        f"asyncapi.yaml differs from the code: {RERUN}"
    )


@pytest.mark.parametrize("service", sorted(openapi.SERVICES))
def test_the_committed_openapi_of_each_service_matches_its_routes(service: str) -> None:
    committed = CONTRACT / "openapi" / f"{service}.json"
    assert committed.exists(), f"{committed} is missing: {RERUN}"
    assert committed.read_text(encoding="utf-8") == openapi.render(app_of(service).openapi()), (
        f"openapi/{service}.json differs from the service's routes: {RERUN}"
    )


def test_no_openapi_document_is_committed_for_a_service_that_does_not_exist() -> None:
    assert {p.stem for p in (CONTRACT / "openapi").glob("*.json")} == set(openapi.SERVICES)


# The AsyncAPI document.


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            r for k, v in node.items() if k != "$ref" for r in _refs(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_asyncapi_document_is_asyncapi_3_and_every_reference_resolves() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/")
        _resolve(document, ref)  # raises KeyError when dangling


def test_every_event_is_a_message_of_its_topic_with_schema_description_and_example() -> None:
    document = asyncapi_document()
    for name, topic in TOPIC_OF_EVENT.items():
        channel = document["channels"][topic]
        assert channel["address"] == topic
        assert name in channel["messages"], f"{name} missing from {topic}"
        message = _resolve(document, channel["messages"][name]["$ref"])
        assert message["title"] == name
        assert message["summary"]
        assert message["description"]
        assert message["correlationId"]["location"] == "$message.payload#/correlationid"
        payload = _resolve(document, message["payload"]["$ref"])
        assert payload["properties"]["type"]["const"] == name
        [example] = message["examples"]
        assert example["payload"] == example_envelope(name)


def test_every_topic_has_its_dead_letter_channel() -> None:
    channels = asyncapi_document()["channels"]
    for topic in set(TOPIC_OF_EVENT.values()):
        assert f"{topic}.dlq" in channels


def test_each_consumer_group_receives_from_its_topic() -> None:
    operations = asyncapi_document()["operations"]
    for consumer in CONSUMERS:
        operation = operations[f"{consumer.service}.consume.{consumer.topic}"]
        assert operation["action"] == "receive"
        assert operation["channel"]["$ref"] == f"#/channels/{consumer.topic}"
        assert operation["bindings"]["kafka"]["groupId"]["enum"] == [consumer.group]


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_each_example_is_a_valid_event_of_its_type(name: str) -> None:
    assert set(EXAMPLES) == set(EVENT_TYPES)
    raw = example_envelope(name)
    typed = envelope_model(name).model_validate(raw)
    assert typed.type == name
    assert type(read_event(typed)) is EVENT_TYPES[name]


# Served by every service.


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.get(path)


@pytest.mark.parametrize("service", sorted(openapi.SERVICES))
async def test_every_service_serves_the_asyncapi_document(service: str) -> None:
    response = await _get(app_of(service), "/api/contract/asyncapi.json")
    assert response.status_code == 200
    assert response.json() == asyncapi_document()


@pytest.mark.parametrize("service", sorted(openapi.SERVICES))
async def test_every_service_serves_the_committed_json_schema_of_an_event(service: str) -> None:
    response = await _get(app_of(service), "/api/contract/events/NeedRaised.schema.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/schema+json")
    committed = (CONTRACT / "schemas" / "NeedRaised.json").read_text(encoding="utf-8")
    assert render(response.json()) == committed


async def test_every_event_and_the_envelope_have_a_served_schema() -> None:
    app = app_of("needs")
    listed = (await _get(app, "/api/contract/events")).json()
    assert listed == list(EVENT_TYPES)
    for name in listed:
        response = await _get(app, f"/api/contract/events/{name}.schema.json")
        assert response.json() == schemas()[f"{name}.json"]
    envelope = await _get(app, "/api/contract/envelope.schema.json")
    assert envelope.json() == schemas()["CloudEvent.json"]


async def test_an_unknown_event_type_is_a_404_problem() -> None:
    response = await _get(app_of("placement"), "/api/contract/events/NeedEaten.schema.json")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == "NOT_FOUND"
    assert "NeedEaten" in response.json()["detail"]


async def test_the_envelope_is_not_served_as_an_event() -> None:
    response = await _get(app_of("needs"), "/api/contract/events/CloudEvent.schema.json")
    assert response.status_code == 404


def test_agencies_find_their_command_reply_and_dead_letter_topics_with_schemas() -> None:
    document = asyncapi_document()
    by_address = {c["address"]: c for c in document["channels"].values()}
    commands = by_address["secondment.commands.v1.{unitCode}"]
    replies = by_address["secondment.replies.v1.{unitCode}"]
    assert "secondment.commands.v1.{unitCode}.dlq" in by_address
    for channel in (commands, replies):
        assert "SO_Y_TE" in channel["parameters"]["unitCode"]["examples"]
    command = _resolve(document, commands["messages"]["Command"]["$ref"])
    envelope = _resolve(document, command["payload"]["$ref"])
    assert {"id", "source", "type", "data"} <= set(envelope["required"])
    assert envelope["properties"]["id"]["pattern"]  # ids are constrained
    for outcome in ("CommandAccepted", "CommandRejected"):
        reply = _resolve(document, replies["messages"][f"{outcome}Reply"]["$ref"])
        base, specific = reply["payload"]["allOf"]
        assert _resolve(document, base["$ref"])["properties"]["causationid"]
        assert specific["properties"]["type"]["const"] == outcome
        data = _resolve(document, specific["properties"]["data"]["$ref"])
        assert data["title"] == outcome
    # Who sends and who receives: the agency, and both services in their groups.
    operations = document["operations"]
    assert operations["agency.send.commands"]["action"] == "send"
    assert operations["agency.receive.replies"]["action"] == "receive"
    for service in ("needs", "placement"):
        consume = operations[f"{service}.consume.commands"]
        assert consume["bindings"]["kafka"]["groupId"]["enum"] == [f"{service}.commands"]
        assert operations[f"{service}.send.replies"]["action"] == "send"
