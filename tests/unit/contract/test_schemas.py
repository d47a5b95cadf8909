"""The committed JSON Schemas are exactly what the models produce."""

from pathlib import Path

import pytest

from shared.contract.events import EVENT_TYPES
from shared.contract.schemas import render, schemas

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "contract" / "schemas"


@pytest.mark.parametrize("name", sorted(schemas()))
def test_the_committed_schema_matches_the_model(name: str) -> None:
    committed = SCHEMAS / name
    assert committed.exists(), f"{committed} is missing: run `make contract`"
    assert committed.read_text(encoding="utf-8") == render(schemas()[name]), (
        f"{name} differs from the model: run `make contract` and review the change"
    )


def test_no_schema_is_committed_for_an_event_that_no_longer_exists() -> None:
    expected = set(schemas())
    assert {p.name for p in SCHEMAS.glob("*.json")} == expected


def test_every_v1_event_named_by_the_foundation_has_a_schema() -> None:
    assert {"NeedRaised", "OfficerSeconded", "SecondmentEnded"} <= set(EVENT_TYPES)


def test_officer_seconded_keeps_all_personal_data_in_one_official_object() -> None:
    schema = schemas()["OfficerSeconded.json"]
    official = schema["$defs"]["Official"]["properties"]
    assert {"official_id", "full_name", "gender", "birth_date", "ethnicity"} <= set(official)
    assert "full_name" not in schema["properties"]
