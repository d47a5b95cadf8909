"""CloudEvents 1.0 envelope in structured JSON mode, with our extension attributes."""

import datetime as dt
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contract.events import EventData


class CloudEvent(BaseModel):
    """One event as it travels on Kafka and sits in an event store.

    Unknown attributes are ignored, not refused: CloudEvents lets producers add extensions,
    and a v1 consumer must keep working when they do.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(description="Unique event id; consumers deduplicate on it.")
    source: str = Field(pattern=r"^/services/[a-z]+$", examples=["/services/needs"])
    type: str = Field(description="The event name, e.g. `NeedRaised`.")
    subject: str = Field(description="The aggregate id (need id or secondment id).")
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    aggregateversion: int = Field(ge=1, description="Aggregate version after this event.")
    correlationid: str = Field(description="Id shared by every event of one business request.")
    causationid: str = Field(description="Id of the command or event that caused this one.")
    actor: str = Field(description="Who asked: an agency code or a service name.")

    def to_json(self) -> bytes:
        """Structured-mode JSON bytes, as written to Kafka and to the event store."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> "CloudEvent":
        """Parse structured-mode JSON; raises pydantic.ValidationError when malformed."""
        return cls.model_validate_json(raw)


def new_event(
    *,
    source: str,
    data: EventData,
    subject: str,
    version: int,
    correlation_id: str,
    causation_id: str,
    actor: str,
    now: dt.datetime,
) -> CloudEvent:
    """Wrap event data in a fresh envelope."""
    return CloudEvent(
        id=uuid4(),
        source=source,
        type=type(data).__name__,
        subject=subject,
        time=now,
        data=data.model_dump(mode="json"),
        aggregateversion=version,
        correlationid=correlation_id,
        causationid=causation_id,
        actor=actor,
    )
