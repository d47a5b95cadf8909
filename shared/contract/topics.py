"""Kafka topics of contract v1 and which events travel on which."""

from typing import Final

NEEDS_TOPIC: Final = "secondment.needs.v1"
"""Key: need id. Events of the needs service."""

PLACEMENTS_TOPIC: Final = "secondment.placements.v1"
"""Key: secondment id (plan id for the locality plans' events). Events of the placement
service, the locality secondment plans included (docs/adr/0006-plans-in-placement.md)."""

NEEDS_SOURCE: Final = "/services/needs"
PLACEMENT_SOURCE: Final = "/services/placement"

TOPIC_OF_EVENT: Final[dict[str, str]] = {
    "NeedRaised": NEEDS_TOPIC,
    "NeedAmended": NEEDS_TOPIC,
    "NeedWithdrawn": NEEDS_TOPIC,
    "NeedFilled": NEEDS_TOPIC,
    "NeedReopened": NEEDS_TOPIC,
    "OfficerSeconded": PLACEMENTS_TOPIC,
    "OfficialReceived": PLACEMENTS_TOPIC,
    "SecondmentExtended": PLACEMENTS_TOPIC,
    "SecondmentEnded": PLACEMENTS_TOPIC,
    "PostSecondmentArranged": PLACEMENTS_TOPIC,
    "SecondmentCancelled": PLACEMENTS_TOPIC,
    "OfficialPromotedAfterReturn": PLACEMENTS_TOPIC,
    "SecondmentPlanAdopted": PLACEMENTS_TOPIC,
    "SecondmentPlanAmended": PLACEMENTS_TOPIC,
}


def topic_name(topic: str, prefix: str = "") -> str:
    """The physical topic name; a prefix namespaces test runs and staging on a shared broker."""
    return f"{prefix}{topic}"
