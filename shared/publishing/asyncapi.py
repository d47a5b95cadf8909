"""The AsyncAPI document of contract v1: every topic, who sends and who receives on it, and
every message with its schema and an example.

FastStream generates it from a documentation-only broker that declares, per topic, the
producer (a publisher whose schema is the union of the topic's CloudEvents) and the
consumers (subscribers typed with the same union). The services' own subscribers read raw
bytes (they dead-letter what does not parse), so they cannot carry these schemas; nothing here
is used for delivery. The generated document is then enriched: one channel per topic with
one message per event type (title, summary, description, Kafka key, example), correlation
ids located in the envelope, consumer groups as operation bindings.

The agencies' commands and replies (`secondment.commands.v1.{unitCode}`,
`secondment.replies.v1.{unitCode}`, docs/contract.md "Commands over Kafka") are added by hand
(`asyncapi_commands.py`): FastStream documents fixed topic names only.

Written to `docs/contract/asyncapi.yaml` by `make contract`, served by every service at
`GET /api/contract/asyncapi.json`.
"""

import functools
import inspect
import operator
from collections.abc import Iterable
from typing import Annotated, Any, Final, Literal, NamedTuple

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field, create_model

from shared.contract.envelope import CloudEvent
from shared.contract.events import EVENT_TYPES
from shared.contract.examples import example_envelope
from shared.contract.schemas import BASE_ID
from shared.contract.topics import (
    NEEDS_SOURCE,
    NEEDS_TOPIC,
    PLACEMENT_SOURCE,
    PLACEMENTS_TOPIC,
    TOPIC_OF_EVENT,
)
from shared.publishing.asyncapi_commands import (
    KAFKA_BINDING_VERSION,
    agency_channels,
    topic_channel,
)

TITLE: Final = "Biệt phái cán bộ — events (contract v1)"

DESCRIPTION: Final = "\n\n".join(
    (
        "Domain events of the platform that runs Quảng Nam's plan to second ethnic-minority "
        "officials from mountainous localities to provincial departments.",
        "Every message is a CloudEvents 1.0 envelope in structured JSON mode (the whole event "
        "is the Kafka record's value, UTF-8 JSON); `type` names the event and `data` holds its "
        "fields. The Kafka key is the aggregate id (`subject`), so one need's or one "
        "secondment's events stay in one partition, in order. Delivery is at least once: "
        "deduplicate on `id`. Ignore envelope attributes and event types you do not know. "
        "`dataversion` (absent: 1) is the version of `data`'s schema.",
        "Topic names may carry a deployment prefix (`<PREFIX>secondment.needs.v1`, from each "
        "service's `*_TOPIC_PREFIX`). The JSON Schema of each event is served by every service "
        "at `/api/contract/events/{type}.schema.json`; the versioning policy is in "
        "docs/contract.md, the refusal codes in docs/rules.md.",
    )
)

SERVER_DESCRIPTION: Final = (
    "The deployment's Kafka cluster (each service's `*_KAFKA_BOOTSTRAP`); `kafka:9092` in "
    "docker compose."
)


class Topic(NamedTuple):
    """A domain topic: who writes it, what its key is, what it is for."""

    name: str
    producer: str
    source: str
    key: str
    description: str


TOPICS: Final = (
    Topic(
        NEEDS_TOPIC,
        "needs",
        NEEDS_SOURCE,
        "need id",
        "Needs raised by provincial departments and what happens to them. Key: the need id. "
        "Three partitions, unlimited retention (`retention.ms=-1`, `cleanup.policy=delete`): "
        "the topic is the log read models are rebuilt from.",
    ),
    Topic(
        PLACEMENTS_TOPIC,
        "placement",
        PLACEMENT_SOURCE,
        "secondment id",
        "Secondments decided by home authorities and their lifecycle. Key: the secondment id. "
        "Three partitions, unlimited retention (`retention.ms=-1`, `cleanup.policy=delete`).",
    ),
)


class Consumer(NamedTuple):
    """A service reading a topic in its own consumer group."""

    service: str
    topic: str
    group: str
    purpose: str


CONSUMERS: Final = (
    Consumer(
        "needs",
        PLACEMENTS_TOPIC,
        "needs",
        "Counts the positions of each need taken by `OfficerSeconded` and freed by "
        "`SecondmentCancelled` (emits `NeedFilled`, `NeedReopened`).",
    ),
    Consumer(
        "placement",
        NEEDS_TOPIC,
        "placement",
        "Keeps the placement service's view of needs, against which secondments are checked.",
    ),
    Consumer(
        "reporting",
        NEEDS_TOPIC,
        "reporting",
        "Projects needs into the read models of the phase evaluations.",
    ),
    Consumer(
        "reporting",
        PLACEMENTS_TOPIC,
        "reporting",
        "Projects secondments into the read models of the phase evaluations.",
    ),
)
"""Default consumer groups; a deployment prefix (`*_TOPIC_PREFIX`) is prepended to them."""


def events_on(topic: str) -> list[str]:
    """The event types that travel on `topic`, in contract order."""
    return [name for name in EVENT_TYPES if TOPIC_OF_EVENT[name] == topic]


@functools.cache
def envelope_model(event_type: str) -> type[CloudEvent]:
    """The CloudEvent of one event type: `type` fixed, `data` its model."""
    source = NEEDS_SOURCE if TOPIC_OF_EVENT[event_type] == NEEDS_TOPIC else PLACEMENT_SOURCE
    model: type[CloudEvent] = create_model(
        f"{event_type}Event",
        __base__=CloudEvent,
        __doc__=f"A `{event_type}` event in its CloudEvents envelope.",
        type=(Literal[event_type], Field(description="The event name.")),
        source=(Literal[source], Field(description="The producing service.")),
        data=(EVENT_TYPES[event_type], ...),
    )
    return model


def topic_payload(topic: str) -> Any:
    """The union of the topic's CloudEvents, told apart by `type`."""
    models: Iterable[Any] = (envelope_model(name) for name in events_on(topic))
    return Annotated[functools.reduce(operator.or_, models), Field(discriminator="type")]


class DeadLetterHeaders(BaseModel):
    """Kafka headers of a dead-lettered record (the value is the original bytes)."""

    x_dlq_reason: str = Field(alias="x-dlq-reason", description="Why it could not be handled.")
    x_dlq_group: str = Field(alias="x-dlq-group", description="The consumer group that gave up.")
    x_dlq_topic: str = Field(alias="x-dlq-topic", description="The topic it was read from.")


def documentation_broker(bootstrap: str = "kafka:9092") -> KafkaBroker:
    """A broker that is never started: its publishers and subscribers describe contract v1."""
    broker = KafkaBroker(bootstrap, description=SERVER_DESCRIPTION)
    for topic in TOPICS:
        broker.publisher(
            topic.name,
            title=f"{topic.producer}.publish.{topic.name}",
            description=f"The {topic.producer} service publishes its events, from its outbox "
            "(acks=all, idempotent producer), once their transaction committed.",
            schema=topic_payload(topic.name),
        )
    for consumer in CONSUMERS:
        broker.subscriber(
            consumer.topic,
            group_id=consumer.group,
            title=f"{consumer.service}.consume.{consumer.topic}",
            description=consumer.purpose,
        )(_typed_handler(topic_payload(consumer.topic)))
        broker.publisher(
            f"{consumer.topic}.dlq",
            title=f"{consumer.service}.dead-letter.{consumer.topic}",
            description=f"Events of {consumer.topic} the {consumer.service} service cannot "
            "handle (invalid envelope, unknown type or version, failing repeatedly) go here, "
            "unchanged, so the partition keeps flowing.",
            schema=dict[str, Any],
        )
    return broker


def _typed_handler(payload: Any) -> Any:
    """A do-nothing handler whose parameter carries `payload`'s schema for FastStream."""

    async def handle(event: Any) -> None:
        return None

    handle.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("event", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=payload)],
        return_annotation=None,
    )
    handle.__annotations__ = {"event": payload, "return": None}
    return handle


def asyncapi_document() -> dict[str, Any]:
    """The enriched AsyncAPI 3.0 document of contract v1, as JSON-ready data."""
    spec = AsyncAPI(
        documentation_broker(),
        title=TITLE,
        version="1.0.0",
        description=DESCRIPTION,
        identifier="urn:vn:gov:quangnam:secondment:events:v1",
        schema_version="3.0.0",
    )
    doc: dict[str, Any] = spec.to_specification().to_jsonable()
    return _enrich(doc)


def _enrich(doc: dict[str, Any]) -> dict[str, Any]:
    """One channel per topic with one message per event; operations pointed at them."""
    generated: dict[str, Any] = doc["channels"]
    (server,) = doc["servers"].values()
    doc["servers"] = {"kafka": {k: v for k, v in server.items() if v != ""}}
    servers = [{"$ref": "#/servers/kafka"}]
    channel_of = {key: channel["address"] for key, channel in generated.items()}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in TOPICS:
        names = events_on(topic.name)
        channels[topic.name] = topic_channel(topic.name, topic.description, servers, names)
        for name in names:
            messages[name] = _event_message(name, topic)
        dlq = f"{topic.name}.dlq"
        channels[dlq] = topic_channel(
            dlq,
            f"Dead letters of {topic.name}: records a consumer could not handle, unchanged, "
            "with the reason in headers, kept for inspection.",
            servers,
            ["DeadLetter"],
        )
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A record a consumer gave up on, as it was read.",
        "contentType": "application/octet-stream",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"description": "The original record's value, unchanged."},
    }

    operations: dict[str, Any] = {}
    for key, operation in doc["operations"].items():
        address = channel_of[operation["channel"]["$ref"].rsplit("/", 1)[1]]
        names = list(channels[address]["messages"])
        enriched: dict[str, Any] = {
            "action": operation["action"],
            "channel": {"$ref": f"#/channels/{_escape(address)}"},
            "title": key,
            "summary": generated[_unref(operation["channel"])].get("description"),
            "messages": [
                {"$ref": f"#/channels/{_escape(address)}/messages/{name}"} for name in names
            ],
        }
        group = _group_of(key)
        if group is not None:
            enriched["bindings"] = {
                "kafka": {
                    "groupId": {"type": "string", "enum": [group]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            }
        operations[key] = enriched

    schemas: dict[str, Any] = {
        name: schema
        for name, schema in doc["components"]["schemas"].items()
        if ":" not in name  # FastStream's per-operation wrappers; messages point at events
    }
    schemas["DeadLetterHeaders"] = DeadLetterHeaders.model_json_schema(by_alias=True)
    agency_channels(channels, operations, messages, schemas, servers)
    doc["channels"] = channels
    doc["operations"] = dict(sorted(operations.items()))
    doc["components"] = {
        "messages": messages,
        "schemas": dict(sorted(schemas.items())),
    }
    doc["info"]["externalDocs"] = {
        "description": "Contract v1: envelope, events, topics, versioning",
        "url": "https://secondment.quangnam.gov.vn/docs/contract",
    }
    return doc


def _event_message(name: str, topic: Topic) -> dict[str, Any]:
    doc = inspect.getdoc(EVENT_TYPES[name]) or name
    return {
        "name": name,
        "title": name,
        "summary": doc.splitlines()[0],
        "description": f"{doc}\n\nA CloudEvent with `type` = `{name}` on `{topic.name}`, "
        f"keyed by the {topic.key}. JSON Schema of `data`: {BASE_ID}{name}.json.",
        "contentType": "application/json",
        "correlationId": {
            "description": "Shared by every event of one business request.",
            "location": "$message.payload#/correlationid",
        },
        "payload": {"$ref": f"#/components/schemas/{name}Event"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "format": "uuid", "description": f"The {topic.key}."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {
                "name": f"{name}Example",
                "summary": f"A {name} of the example story",
                "payload": example_envelope(name),
            }
        ],
    }


def _group_of(operation: str) -> str | None:
    for consumer in CONSUMERS:
        if operation == f"{consumer.service}.consume.{consumer.topic}":
            return consumer.group
    return None


def _unref(ref: dict[str, str]) -> str:
    return ref["$ref"].rsplit("/", 1)[1]


def _escape(pointer_part: str) -> str:
    return pointer_part.replace("~", "~0").replace("/", "~1")
