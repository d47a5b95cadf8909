"""The audit entry of a command received over Kafka: what became of it (outcome, rule) and the
records it names, written to the audit log when there is one."""

import logging
from dataclasses import dataclass

from shared.authz import KAFKA_SUBJECT
from shared.contract.commands import (
    COMMANDS_TOPIC,
    TARGET_ID,
    CommandEnvelope,
    CommandReply,
    CommandType,
)
from shared.contract.rules import RuleCode
from shared.infra.audit import AuditLog
from shared.infra.audit_entries import AuditRecord, Category, Channel, Outcome
from shared.infra.command_parsing import Refused

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handled:
    """What became of one command (for the audit log)."""

    outcome: Outcome
    rule: RuleCode | None
    records: tuple[tuple[str, str], ...]
    committed: bool = False
    """Its entry committed with its reply (`shared.infra.audit_outbox`): nothing to write."""


def records_of(
    envelope: CommandEnvelope, kind: CommandType, reply: CommandReply | None
) -> tuple[tuple[str, str], ...]:
    """The records a command names: itself, its target, its need and official, what it made."""
    records = [("command", envelope.id)]
    field = TARGET_ID[kind]
    if field is not None and isinstance(envelope.data.get(field), str):
        records.append((field.removesuffix("_id"), envelope.data[field]))
    if isinstance(envelope.data.get("need_id"), str):
        records.append(("need", envelope.data["need_id"]))
    official = envelope.data.get("official")
    if isinstance(official, dict) and isinstance(official.get("official_id"), str):
        records.append(("official", official["official_id"]))
    accepted = reply.accepted() if reply else None
    if accepted is not None and accepted.record_id is not None:
        kind_of_record = "need" if kind.value.endswith("Need") else "secondment"
        records.append((kind_of_record, accepted.record_id))
    return tuple(records)


def refused_outcome(refusal: Refused, records: tuple[tuple[str, str], ...] = ()) -> Handled:
    """What became of a refused command."""
    return Handled(Outcome.REFUSED, refusal.rule, records)


def command_entry(agency: str, command_id: str, action: str, outcome: Handled) -> AuditRecord:
    """The audit entry of a command over Kafka: written after it (`audit_command`), or
    committed with its reply (`shared.infra.commands`)."""
    return AuditRecord(
        channel=Channel.KAFKA,
        agency=agency,
        subject=KAFKA_SUBJECT,
        action=action,
        category=Category.COMMAND,
        outcome=outcome.outcome,
        rule=outcome.rule.value if outcome.rule else None,
        route=f"{COMMANDS_TOPIC}.{agency}",
        records=outcome.records or (("command", command_id),),
    )


async def audit_command(
    audit: AuditLog | None, agency: str, command_id: str, action: str, outcome: Handled
) -> None:
    """Write the command's audit entry (never raises: a failure is logged)."""
    if audit is None or not audit.started or outcome.committed:
        return
    try:
        await audit.record(command_entry(agency, command_id, action, outcome))
    except Exception:
        log.exception("could not write the audit entry of command %s", command_id)
