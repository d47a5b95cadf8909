"""The plan's phases live in one place, the reference data, read by every service: the caps the
needs and placement services enforce and the phases reporting evaluates cannot diverge."""

import json
from importlib import resources

import pytest

from services.needs.config import NeedsSettings
from services.placement.config import PlacementSettings
from services.reporting.config import ReportingSettings
from shared.phases import DEFAULT_PHASES


def test_every_service_reads_the_phases_of_the_reference_data() -> None:
    data = json.loads(
        resources.files("shared.reference").joinpath("data/phases.json").read_text("utf-8")
    )
    listed = [(i["phase_id"], i["cap_months"], i["provisional"]) for i in data["items"]]
    assert [(p.phase_id, p.cap_months, p.provisional) for p in DEFAULT_PHASES] == listed
    assert ReportingSettings().phases == DEFAULT_PHASES
    for settings in (NeedsSettings(), PlacementSettings()):
        assert not hasattr(settings, "phases")  # no setting of their own either


def test_a_phase_setting_of_the_reporting_service_alone_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It once let the evaluations count phases other than those the caps were checked by."""
    monkeypatch.setenv("REPORTING_PHASES", "[]")
    with pytest.raises(ValueError, match="reference data"):
        ReportingSettings()
