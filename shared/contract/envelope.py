"""CloudEvents 1.0 envelope in structured JSON mode, with our extension attributes."""

import datetime as dt
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contract.events import EventData, parse_data
from shared.contract.upcasting import UPCASTERS, UpcasterRegistry


class CloudEvent(BaseModel):
    """One event as it travels on Kafka and sits in an event store.

    Unknown attributes are ignored, not refused: CloudEvents lets producers add extensions,
    and a v1 consumer must keep working when they do.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

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
    dataversion: int = Field(
        default=1,
        ge=0,
        description=(
            "Version of `data`'s schema for this `type`; absent means 1. Readers upcast an "
            "older version to the one they know (see Versioning in docs/contract.md)."
        ),
        # Version 1 is written as an absent attribute: envelopes of the first version keep
        # the exact bytes (and the digests consumers deduplicate on) they had before it.
        exclude_if=lambda version: version == 1,
    )

    personaldata: str | None = Field(
        default=None,
        description=(
            "`sealed-v1` when the personal data in `data` is sealed (see Personal data in "
            "docs/contract.md); absent otherwise."
        ),
        exclude_if=lambda value: value is None,
    )

    # CloudEvents' distributed-tracing extension. Optional and absent when None: events of
    # untraced producers (and every event written before it) keep their exact bytes, and a
    # malformed value is the trace's loss, never a reason to refuse the event.
    traceparent: str | None = Field(
        default=None,
        description=(
            "W3C Trace Context `traceparent` of the operation that recorded the event "
            "(CloudEvents distributed-tracing extension); absent when it was not traced."
        ),
        examples=["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
        exclude_if=lambda value: value is None,
    )
    tracestate: str | None = Field(
        default=None,
        description="W3C Trace Context `tracestate` going with `traceparent`, when there is one.",
        exclude_if=lambda value: value is None,
    )

    def to_json(self) -> bytes:
        """Structured-mode JSON bytes, as written to Kafka and to the event store.

        Straight from the model's serializer, the same bytes as `model_dump_json().encode()`
        (tests/unit/contract) at 3 µs instead of 5: every event pays it several times (store,
        relay, each consumer's claim digest)."""
        return self.__pydantic_serializer__.to_json(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> "CloudEvent":
        """Parse structured-mode JSON; raises pydantic.ValidationError when malformed (the
        model's validator called directly: `model_validate_json`'s wrapper costs 1 µs)."""
        return cls.__pydantic_validator__.validate_json(raw)  # type: ignore[no-any-return]


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
        dataversion=type(data).schema_version,
    )


def read_event(envelope: CloudEvent, upcasters: UpcasterRegistry = UPCASTERS) -> EventData:
    """The envelope's data as the current model of its type, upcast from its `dataversion`.

    What event stores and consumers use to read an event; raises like `parse_data`.
    """
    return parse_data(envelope.type, envelope.data, envelope.dataversion, upcasters=upcasters)
