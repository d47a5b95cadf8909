"""The agencies' own topics in the AsyncAPI document: per agency a commands topic, a replies
topic and their dead letters (`secondment.commands.v1.{unitCode}`, docs/contract.md "Commands
over Kafka"). Added by hand: FastStream documents fixed topic names only. `topic_channel` builds
every channel of the document, these and the event topics (`asyncapi.py`).
"""

import inspect
from typing import Any, Final

from shared.contract.commands import (
    CommandAccepted,
    CommandEnvelope,
    CommandRejected,
    CommandReply,
)

KAFKA_BINDING_VERSION: Final = "0.4.0"


UNIT_CODE_PARAMETER: Final = {
    "description": "The agency's unit code in the reference data (`GET /api/reference/units`); "
    "it is who acts, whatever the payload says.",
    "examples": ["SO_Y_TE", "NAM_GIANG"],
}
COMMAND_SERVICES: Final = ("needs", "placement")


def agency_channels(
    channels: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
    schemas: dict[str, Any],
    servers: Any,
) -> None:
    """The per-agency command, reply and dead-letter topics, their messages and operations."""
    template = "#/components/schemas/{model}"
    for model in (CommandEnvelope, CommandReply, CommandAccepted, CommandRejected):
        schema = model.model_json_schema(ref_template=template)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    addresses = {
        "agencyCommands": (
            "secondment.commands.v1.{unitCode}",
            "Commands one agency sends (CloudEvents whose `type` is a command): the same as "
            "its HTTP requests. Only `agency-<unitCode>` may write here; the needs and placement "
            "services each read every agency's topic (topic pattern) and apply a command once.",
            ["Command"],
        ),
        "agencyReplies": (
            "secondment.replies.v1.{unitCode}",
            "One reply per command, keyed by the command id: accepted (the events it committed) "
            "or rejected (a rule code and the problem). Only `agency-<unitCode>` may read here.",
            ["CommandAcceptedReply", "CommandRejectedReply"],
        ),
        "agencyCommandsDeadLetter": (
            "secondment.commands.v1.{unitCode}.dlq",
            "Records of the commands topic that are not a command at all (not JSON, no usable "
            "id), unchanged, with the reason in headers; for the operators.",
            ["DeadLetter"],
        ),
    }
    for key, (address, description, names) in addresses.items():
        channel = topic_channel(address, description, servers, names)
        channel["parameters"] = {"unitCode": dict(UNIT_CODE_PARAMETER)}
        channel["bindings"]["kafka"].pop("topicConfiguration")
        channels[key] = channel
    messages["Command"] = {
        "name": "Command",
        "title": "Command",
        "summary": "A command of an agency: the body of the matching HTTP request.",
        "description": "`type` names the command (`RaiseNeed`, `SecondOfficial` …; the table in "
        "docs/contract.md); `data` is the HTTP body, plus `need_id` or `secondment_id` for a "
        "command on an existing record. Sent twice, it is applied once and answered alike.",
        "contentType": "application/json",
        "correlationId": {
            "description": "Stamped on the resulting events; defaults to the command id.",
            "location": "$message.payload#/correlationid",
        },
        "payload": {"$ref": "#/components/schemas/CommandEnvelope"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The command id (recommended)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    for outcome in ("CommandAccepted", "CommandRejected"):
        messages[f"{outcome}Reply"] = {
            "name": f"{outcome}Reply",
            "title": outcome,
            "summary": (inspect.getdoc(globals()[outcome]) or outcome).splitlines()[0],
            "contentType": "application/json",
            "correlationId": {
                "description": "The command's correlation id.",
                "location": "$message.payload#/correlationid",
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CommandReply"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": outcome},
                            "data": {"$ref": f"#/components/schemas/{outcome}"},
                        },
                    },
                ]
            },
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": "The command id."},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }

    def operation(
        key: str, action: str, channel: str, title: str, group: dict[str, Any] | None = None
    ) -> None:
        names = list(channels[channel]["messages"])
        entry: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "title": key,
            "summary": title,
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names],
        }
        if group is not None:
            entry["bindings"] = {
                "kafka": {
                    "groupId": {"type": "string", **group},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            }
        operations[key] = entry

    operation("agency.send.commands", "send", "agencyCommands", "An agency sends a command.")
    operation(
        "agency.receive.replies",
        "receive",
        "agencyReplies",
        "An agency reads the replies to its commands, in consumer groups `agency-<unitCode>…`.",
        {"pattern": "^agency-[A-Z0-9_]+"},
    )
    for service in COMMAND_SERVICES:
        operation(
            f"{service}.consume.commands",
            "receive",
            "agencyCommands",
            f"The {service} service applies the commands that are its own, from every "
            "agency's topic.",
            {"enum": [f"{service}.commands"]},
        )
        operation(
            f"{service}.send.replies",
            "send",
            "agencyReplies",
            f"The {service} service answers each of its commands once it committed (or refused).",
        )
        operation(
            f"{service}.dead-letter.commands",
            "send",
            "agencyCommandsDeadLetter",
            f"The {service} service parks what is not a command.",
        )


def topic_channel(
    address: str, description: str, servers: Any, messages: list[str]
) -> dict[str, Any]:
    return {
        "address": address,
        "title": address,
        "description": description,
        "servers": [dict(ref) for ref in servers],
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        "bindings": {
            "kafka": {
                "topic": address,
                "partitions": 3,
                "topicConfiguration": {"retention.ms": -1, "cleanup.policy": ["delete"]},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
