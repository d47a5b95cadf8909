"""Contract v1 stays compatible: the current models against the frozen baseline
(`docs/contract/v1-baseline/`), and the checker catching deliberately broken copies of the
models, built here (the contract itself is never edited by these tests).
"""

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, create_model

from shared.contract.compat import (
    BASELINE_V1,
    Baseline,
    Change,
    check,
    load_baseline,
    main,
)
from shared.contract.envelope import CloudEvent
from shared.contract.events import (
    EVENT_TYPES,
    EventData,
    NeedFilled,
    NeedRaised,
    OfficerSeconded,
    Official,
    SecondmentEnded,
)
from shared.contract.rules import RuleCode
from shared.contract.schemas import envelope_schema, event_schemas
from shared.contract.topics import PLACEMENTS_TOPIC
from shared.contract.types import LongText
from shared.publishing.export import write

Found = list[tuple[str, Change]]


@pytest.fixture(scope="module")
def v1() -> Baseline:
    return load_baseline(BASELINE_V1)


def without(model: type[BaseModel], name: str, *, base: type[BaseModel] = EventData) -> Any:
    """A copy of `model`, same name and fields, but without the field `name`."""
    fields: dict[str, Any] = {
        n: (f.annotation, f) for n, f in model.model_fields.items() if n != name
    }
    return create_model(model.__name__, __base__=base, __doc__=model.__doc__, **fields)


def events_with(*models: type[EventData], dropping: str | None = None) -> dict[str, Any]:
    """The JSON Schemas of the current events, with `models` replacing (or joining) those of
    the same name, as `EVENT_TYPES` names them: by class name."""
    current = {n: m for n, m in EVENT_TYPES.items() if n != dropping}
    return event_schemas(current | {m.__name__: m for m in models})


def found(v1: Baseline, **contract: Any) -> Found:
    return [(c.where, c.change) for c in check(v1, **contract)]


# (a) The current contract is v1.


def test_the_current_models_and_rule_codes_are_compatible_with_v1(v1: Baseline) -> None:
    assert check(v1) == [], "\n".join(str(c) for c in check(v1))


def test_the_compatibility_command_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "compatible" in capsys.readouterr().out


def test_the_baseline_holds_every_v1_event_and_rule_code(v1: Baseline) -> None:
    assert len(v1.events) == 11
    assert {"NeedRaised", "OfficerSeconded", "SecondmentEnded"} <= set(v1.events)
    assert {"NEED_FULL", "DURATION_OVER_CAP", "NOT_FOUND"} <= set(v1.rule_codes)
    assert "properties" in v1.envelope


def test_make_contract_never_writes_the_frozen_baseline(tmp_path: Path) -> None:
    written = write(tmp_path)
    assert written
    assert not (tmp_path / "v1-baseline").exists()
    assert all("v1-baseline" not in p.parts for p in written)


# (b) Deliberately breaking changes, each caught.


def test_removing_positions_from_need_raised_breaks_v1(v1: Baseline) -> None:
    broken = without(NeedRaised, "positions")
    assert found(v1, events=events_with(broken)) == [("NeedRaised.positions", Change.FIELD_REMOVED)]


def test_retyping_raised_on_to_int_breaks_v1(v1: Baseline) -> None:
    broken = create_model("NeedRaised", __base__=NeedRaised, raised_on=(int, ...))
    changes = check(v1, events=events_with(broken))
    assert [(c.where, c.change) for c in changes] == [
        ("NeedRaised.raised_on", Change.FIELD_RETYPED)
    ]
    assert changes[0].detail == "string → integer"


def test_turning_raised_on_into_a_date_time_breaks_v1(v1: Baseline) -> None:
    broken = create_model("NeedRaised", __base__=NeedRaised, raised_on=(dt.datetime, ...))
    changes = check(v1, events=events_with(broken))
    assert [(c.where, c.change, c.detail) for c in changes] == [
        ("NeedRaised.raised_on", Change.FIELD_RETYPED, "format date → date-time")
    ]


def test_renaming_officer_seconded_breaks_v1(v1: Baseline) -> None:
    renamed = create_model("OfficialSeconded", __base__=OfficerSeconded)
    assert found(v1, events=events_with(renamed, dropping="OfficerSeconded")) == [
        ("OfficerSeconded", Change.EVENT_REMOVED)
    ]


def test_removing_an_event_type_breaks_v1(v1: Baseline) -> None:
    assert found(v1, events=events_with(dropping="NeedReopened")) == [
        ("NeedReopened", Change.EVENT_REMOVED)
    ]


def test_dropping_a_rule_code_breaks_v1(v1: Baseline) -> None:
    broken = StrEnum(  # type: ignore[misc]  # RuleCode without NEED_FULL
        "RuleCode", {c.name: c.value for c in RuleCode if c is not RuleCode.NEED_FULL}
    )
    assert found(v1, rule_codes=[c.value for c in broken]) == [
        ("rule code NEED_FULL", Change.RULE_CODE_REMOVED)
    ]


def test_renaming_a_rule_code_breaks_v1(v1: Baseline) -> None:
    codes = ["NEED_IS_FULL" if c is RuleCode.NEED_FULL else c.value for c in RuleCode]
    assert found(v1, rule_codes=codes) == [("rule code NEED_FULL", Change.RULE_CODE_REMOVED)]


def test_a_new_required_field_breaks_v1(v1: Baseline) -> None:
    broken = create_model("NeedRaised", __base__=NeedRaised, priority=(int, ...))
    assert found(v1, events=events_with(broken)) == [
        ("NeedRaised.priority", Change.NEW_REQUIRED_FIELD)
    ]


def test_making_an_optional_field_required_breaks_v1(v1: Baseline) -> None:
    broken = create_model(
        "SecondmentEnded", __base__=SecondmentEnded, remarks=(LongText | None, ...)
    )
    assert found(v1, events=events_with(broken)) == [
        ("SecondmentEnded.remarks", Change.FIELD_NOW_REQUIRED)
    ]


def test_making_a_required_field_optional_breaks_v1(v1: Baseline) -> None:
    broken = create_model(
        "NeedFilled", __base__=NeedFilled, filled_on=(dt.date, dt.date(2024, 1, 1))
    )
    assert found(v1, events=events_with(broken)) == [
        ("NeedFilled.filled_on", Change.FIELD_NOW_OPTIONAL)
    ]


def test_a_field_that_may_now_be_null_breaks_v1(v1: Baseline) -> None:
    broken = create_model("NeedFilled", __base__=NeedFilled, filled_on=(dt.date | None, ...))
    assert found(v1, events=events_with(broken)) == [("NeedFilled.filled_on", Change.FIELD_RETYPED)]


def test_narrowing_an_enum_breaks_v1(v1: Baseline) -> None:
    rating = Literal["EXCELLENT", "GOOD", "COMPLETED"]  # NOT_COMPLETED dropped
    broken = create_model("SecondmentEnded", __base__=SecondmentEnded, rating=(rating, ...))
    changes = check(v1, events=events_with(broken))
    assert [(c.where, c.change, c.detail) for c in changes] == [
        ("SecondmentEnded.rating", Change.VALUES_CHANGED, 'removed "NOT_COMPLETED"')
    ]


def test_widening_an_enum_breaks_v1_consumers_that_do_not_know_the_value(v1: Baseline) -> None:
    rating = Literal["EXCELLENT", "GOOD", "COMPLETED", "NOT_COMPLETED", "OUTSTANDING"]
    broken = create_model("SecondmentEnded", __base__=SecondmentEnded, rating=(rating, ...))
    assert found(v1, events=events_with(broken)) == [
        ("SecondmentEnded.rating", Change.VALUES_CHANGED)
    ]


def test_changing_the_bounds_of_a_field_breaks_v1(v1: Baseline) -> None:
    broken = create_model("NeedRaised", __base__=NeedRaised, positions=(int, Field(ge=1, le=10)))
    changes = check(v1, events=events_with(broken))
    assert [(c.where, c.change, c.detail) for c in changes] == [
        ("NeedRaised.positions", Change.BOUNDS_CHANGED, "maximum 20 → 10")
    ]


def test_removing_a_field_of_the_nested_official_breaks_v1(v1: Baseline) -> None:
    official = without(Official, "ethnicity", base=BaseModel)
    broken = create_model("OfficerSeconded", __base__=OfficerSeconded, official=(official, ...))
    assert found(v1, events=events_with(broken)) == [
        ("OfficerSeconded.official.ethnicity", Change.FIELD_REMOVED)
    ]


def test_moving_an_event_to_another_topic_breaks_v1(v1: Baseline) -> None:
    events = event_schemas()
    events["NeedFilled"] = {**events["NeedFilled"], "x-topic": PLACEMENTS_TOPIC}
    assert found(v1, events=events) == [("NeedFilled", Change.EVENT_MOVED)]


def test_removing_an_envelope_attribute_breaks_v1(v1: Baseline) -> None:
    broken = without(CloudEvent, "correlationid", base=BaseModel)
    assert found(v1, envelope=envelope_schema(broken)) == [
        ("CloudEvent.correlationid", Change.FIELD_REMOVED)
    ]


# Compatible changes pass.


def test_adding_an_optional_field_is_compatible(v1: Baseline) -> None:
    extended = create_model("NeedRaised", __base__=NeedRaised, priority=(int | None, None))
    assert check(v1, events=events_with(extended)) == []


def test_adding_an_event_type_is_compatible(v1: Baseline) -> None:
    class NeedPrioritised(EventData):
        """A new event: compatible, v1 consumers ignore types they do not know."""

        need_id: str

    assert check(v1, events=events_with(NeedPrioritised)) == []


def test_adding_a_rule_code_is_compatible(v1: Baseline) -> None:
    assert check(v1, rule_codes=[*(c.value for c in RuleCode), "QUOTA_EXCEEDED"]) == []


def test_rewording_titles_and_descriptions_is_compatible(v1: Baseline) -> None:
    events = event_schemas()
    events["NeedFilled"] = {**events["NeedFilled"], "description": "Reworded.", "title": "X"}
    assert check(v1, events=events) == []
