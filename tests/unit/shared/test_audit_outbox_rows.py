"""An audit entry committed with a command is stored as JSON that any replica of a rolling
deployment reads back: the same text as the dataclass's own field-by-field form, and the same
entry once read."""

import dataclasses
import json

from shared.infra.audit_entries import AuditRecord, Category, Channel, Outcome
from shared.infra.audit_outbox import _entry_json, _entry_of


def test_an_entry_row_is_the_entry_field_by_field_and_reads_back_the_same() -> None:
    entry = AuditRecord(
        channel=Channel.KAFKA,
        agency="NAM_GIANG",
        subject="cmd@nam_giang",
        action="SecondOfficial",
        category=Category.COMMAND,
        outcome=Outcome.REFUSED,
        status=409,
        rule="OVERLAP",
        route=None,
        records=(("need", "n-1"), ("official", "p-2")),
        count=1,
    )

    text = _entry_json(entry)

    assert text == json.dumps(dataclasses.asdict(entry), separators=(",", ":"))
    assert _entry_of(text) == entry
