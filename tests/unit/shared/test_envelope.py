"""The CloudEvents 1.0 envelope: what producers write and what consumers accept."""

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contract.envelope import CloudEvent, new_event
from shared.contract.events import NeedFilled, NeedRaised, parse_data
from shared.contract.types import UnitRef

NOW = dt.datetime(2024, 8, 1, 3, 0, tzinfo=dt.UTC)
NEED_ID = uuid.UUID("6f1c2b1e-0000-4000-8000-000000000001")


def need_raised() -> NeedRaised:
    return NeedRaised(
        need_id=NEED_ID,
        host_unit=UnitRef(code="SO_Y_TE", name="Sở Y tế"),
        sector="HEALTH",
        position_title="Phó Trưởng phòng Nghiệp vụ Y",
        positions=2,
        min_rank="PHO_TRUONG_PHONG",
        desired_start=dt.date(2024, 9, 1),
        duration_months=6,
        raised_on=dt.date(2024, 8, 1),
    )


def envelope(version: int = 1) -> CloudEvent:
    return new_event(
        source="/services/needs",
        data=need_raised(),
        subject=str(NEED_ID),
        version=version,
        correlation_id="corr-1",
        causation_id="cmd-1",
        actor="SO_Y_TE",
        now=NOW,
    )


def as_dict(event: CloudEvent) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(event.to_json())
    return parsed


def test_an_envelope_survives_a_round_trip_through_json() -> None:
    original = envelope()
    assert CloudEvent.from_json(original.to_json()) == original
    assert CloudEvent.from_json(original.to_json().decode()) == original


def test_the_json_is_structured_mode_cloudevents_1_0() -> None:
    raw = as_dict(envelope())
    assert raw["specversion"] == "1.0"
    assert raw["datacontenttype"] == "application/json"
    assert raw["source"] == "/services/needs"
    assert raw["data"]["need_id"] == str(NEED_ID)


def test_the_data_read_back_is_the_event_written() -> None:
    read = CloudEvent.from_json(envelope().to_json())
    assert parse_data(read.type, read.data) == need_raised()


def test_unknown_extension_attributes_are_ignored() -> None:
    original = envelope()
    raw = as_dict(original) | {"sequence": "00-abc-def-01", "partitionkey": "x"}
    read = CloudEvent.from_json(json.dumps(raw))
    assert read == original
    assert "sequence" not in read.model_dump()
    assert "sequence" not in as_dict(read)


def test_the_trace_context_is_optional_and_never_refused() -> None:
    """Declared since tracing (docs/contract.md): absent, the bytes are what they were; a
    malformed value is kept as sent (the trace is lost, never the event)."""
    original = envelope()
    assert "traceparent" not in as_dict(original)
    assert "tracestate" not in as_dict(original)
    raw = as_dict(original) | {"traceparent": "00-abc-def-01"}
    read = CloudEvent.from_json(json.dumps(raw))
    assert read.traceparent == "00-abc-def-01"
    assert as_dict(read) == raw


def test_an_envelope_without_an_id_is_refused() -> None:
    raw = as_dict(envelope())
    del raw["id"]
    with pytest.raises(ValidationError, match="id"):
        CloudEvent.from_json(json.dumps(raw))


def test_an_envelope_whose_id_is_not_a_uuid_is_refused() -> None:
    raw = as_dict(envelope()) | {"id": "42"}
    with pytest.raises(ValidationError, match="id"):
        CloudEvent.from_json(json.dumps(raw))


@pytest.mark.parametrize(
    "source", ["needs", "/services/Needs", "/services/", "/services/needs/x", "https://x/needs"]
)
def test_an_envelope_from_a_malformed_source_is_refused(source: str) -> None:
    raw = as_dict(envelope()) | {"source": source}
    with pytest.raises(ValidationError, match="source"):
        CloudEvent.from_json(json.dumps(raw))


def test_an_envelope_of_another_specversion_is_refused() -> None:
    raw = as_dict(envelope()) | {"specversion": "0.3"}
    with pytest.raises(ValidationError, match="specversion"):
        CloudEvent.from_json(json.dumps(raw))


def test_an_envelope_with_a_time_without_zone_is_refused() -> None:
    raw = as_dict(envelope()) | {"time": "2024-08-01T03:00:00"}
    with pytest.raises(ValidationError, match="time"):
        CloudEvent.from_json(json.dumps(raw))


def test_new_event_stamps_the_class_name_as_type_and_the_aggregate_version() -> None:
    event = envelope(version=3)
    assert event.type == "NeedRaised"
    assert event.aggregateversion == 3
    assert event.subject == str(NEED_ID)
    assert event.time == NOW
    assert (event.correlationid, event.causationid, event.actor) == ("corr-1", "cmd-1", "SO_Y_TE")
    assert event.data == need_raised().model_dump(mode="json")


def test_new_event_names_each_event_type_after_its_class() -> None:
    filled = NeedFilled(need_id=NEED_ID, filled_on=dt.date(2024, 9, 1), positions=2)
    event = new_event(
        source="/services/needs",
        data=filled,
        subject=str(NEED_ID),
        version=2,
        correlation_id="c",
        causation_id="e",
        actor="needs",
        now=NOW,
    )
    assert event.type == "NeedFilled"
    assert parse_data(event.type, event.data) == filled


def test_new_event_gives_every_envelope_a_fresh_id() -> None:
    assert envelope().id != envelope().id


def test_an_aggregate_version_below_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="aggregateversion"):
        envelope(version=0)
