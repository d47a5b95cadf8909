"""deploy/kafka/acls.sh agrees with the code whose access it grants.

The script itself is proven on a real broker by tests/integration/test_kafka_acls.py; these
checks catch, without a broker, a renamed topic or group, or a unit code that would let one
agency's PREFIXED group ACL cover another agency's groups.
"""

import re
from pathlib import Path

import pytest

from services.needs.config import NeedsSettings
from services.placement.config import PlacementSettings
from services.reporting.config import ReportingSettings
from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC
from shared.reference.catalog import reference_data

ACLS_SH = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "acls.sh"


def test_no_unit_code_is_a_prefix_of_another() -> None:
    """Agency groups are granted PREFIXED `agency-<CODE>`: with codes SO_Y_TE and SO_Y_TE_X,
    agency SO_Y_TE could join (and disturb) agency SO_Y_TE_X's groups."""
    codes = sorted(unit.code for unit in reference_data().units())
    assert codes
    overlapping = [(a, b) for a in codes for b in codes if a != b and b.startswith(a)]
    assert not overlapping, f"unit codes that prefix others: {overlapping}"
    assert all(re.fullmatch(r"[A-Z0-9_]+", code) for code in codes), "acls.sh accepts A-Z0-9_"


def test_the_script_grants_the_contracts_topics() -> None:
    script = ACLS_SH.read_text(encoding="utf-8")
    assert f'NEEDS="${{PREFIX}}{NEEDS_TOPIC}"' in script
    assert f'PLACEMENTS="${{PREFIX}}{PLACEMENTS_TOPIC}"' in script
    assert 'COMMANDS="${PREFIX}secondment.commands.v1."' in script
    assert 'REPLIES="${PREFIX}secondment.replies.v1."' in script


@pytest.mark.parametrize("settings", [NeedsSettings, PlacementSettings, ReportingSettings])
def test_each_service_consumes_in_groups_the_script_grants_it(
    settings: type[NeedsSettings | PlacementSettings | ReportingSettings],
) -> None:
    group = settings.model_fields["consumer_group"].default
    script = ACLS_SH.read_text(encoding="utf-8")
    assert f'allow {group} Read PREFIXED "group:${{PREFIX}}{group}"' in script
