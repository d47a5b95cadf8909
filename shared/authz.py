"""Who may do what: one policy for HTTP and Kafka commands alike.

An agency acts on its own records only: a host department on the needs it raised and the
officials it receives; a home authority on the officials it seconds. After the 2025 reform
an agency also acts on the records of the units it succeeded (Sở Y tế Đà Nẵng on needs raised
by Sở Y tế Quảng Nam). Leadership and the Department of Home Affairs read reports; only the
data-protection officer erases personal data and reads the audit log. A locality's secondment
plan is recorded by the locality itself or, for the whole province, by the Department of
Home Affairs (the department that covers the home-affairs sector, and its successor).
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from shared.reference import reference_data


class Scope(StrEnum):
    """Token scopes (claim `scope`, space-separated)."""

    NEEDS_WRITE = "needs:write"
    SECONDMENTS_WRITE = "secondments:write"
    RECEPTION_WRITE = "reception:write"
    REPORTS_READ = "reports:read"
    REPORTS_SENSITIVE = "reports:sensitive"
    PERSONAL_DATA_ERASE = "personal-data:erase"
    AUDIT_READ = "audit:read"
    PLANS_WRITE = "plans:write"


class Action(StrEnum):
    """Every command and read the policy rules on; names match the Kafka command types."""

    RAISE_NEED = "RaiseNeed"
    AMEND_NEED = "AmendNeed"
    WITHDRAW_NEED = "WithdrawNeed"
    SECOND_OFFICIAL = "SecondOfficial"
    RECORD_RECEPTION = "RecordReception"
    EXTEND_SECONDMENT = "ExtendSecondment"
    END_SECONDMENT = "EndSecondment"
    ARRANGE_POST_SECONDMENT = "ArrangePostSecondment"
    RECORD_PROMOTION_AFTER_RETURN = "RecordPromotionAfterReturn"
    CANCEL_SECONDMENT = "CancelSecondment"
    ADOPT_SECONDMENT_PLAN = "AdoptSecondmentPlan"
    AMEND_SECONDMENT_PLAN = "AmendSecondmentPlan"
    READ_NEED = "ReadNeed"
    READ_SECONDMENT = "ReadSecondment"
    READ_REPORTS = "ReadReports"
    READ_SENSITIVE_REPORTS = "ReadSensitiveReports"
    ERASE_PERSONAL_DATA = "ErasePersonalData"
    READ_PERSONAL_DATA = "ReadPersonalData"
    READ_AUDIT = "ReadAudit"


class Party(StrEnum):
    """Whose record it is, for the action: the need's host or the official's home unit."""

    HOST = "HOST"
    HOME = "HOME"
    HOME_OR_HOME_AFFAIRS = "HOME_OR_HOME_AFFAIRS"
    ANY = "ANY"
    NONE = "NONE"


@dataclass(frozen=True)
class Rule:
    """The scope an action needs and which party of the record must be the agency."""

    scope: Scope
    party: Party


POLICY: dict[Action, Rule] = {
    Action.RAISE_NEED: Rule(Scope.NEEDS_WRITE, Party.HOST),
    Action.AMEND_NEED: Rule(Scope.NEEDS_WRITE, Party.HOST),
    Action.WITHDRAW_NEED: Rule(Scope.NEEDS_WRITE, Party.HOST),
    Action.SECOND_OFFICIAL: Rule(Scope.SECONDMENTS_WRITE, Party.HOME),
    Action.RECORD_RECEPTION: Rule(Scope.RECEPTION_WRITE, Party.HOST),
    Action.EXTEND_SECONDMENT: Rule(Scope.SECONDMENTS_WRITE, Party.HOME),
    Action.END_SECONDMENT: Rule(Scope.SECONDMENTS_WRITE, Party.HOME),
    Action.ARRANGE_POST_SECONDMENT: Rule(Scope.SECONDMENTS_WRITE, Party.HOME),
    Action.RECORD_PROMOTION_AFTER_RETURN: Rule(Scope.SECONDMENTS_WRITE, Party.HOME),
    Action.CANCEL_SECONDMENT: Rule(Scope.SECONDMENTS_WRITE, Party.HOME),
    Action.ADOPT_SECONDMENT_PLAN: Rule(Scope.PLANS_WRITE, Party.HOME_OR_HOME_AFFAIRS),
    Action.AMEND_SECONDMENT_PLAN: Rule(Scope.PLANS_WRITE, Party.HOME_OR_HOME_AFFAIRS),
    Action.READ_REPORTS: Rule(Scope.REPORTS_READ, Party.NONE),
    Action.READ_SENSITIVE_REPORTS: Rule(Scope.REPORTS_SENSITIVE, Party.NONE),
    Action.ERASE_PERSONAL_DATA: Rule(Scope.PERSONAL_DATA_ERASE, Party.NONE),
    Action.READ_PERSONAL_DATA: Rule(Scope.PERSONAL_DATA_ERASE, Party.NONE),
    Action.READ_AUDIT: Rule(Scope.AUDIT_READ, Party.NONE),
}
"""Reads of one need or secondment are decided by `may_read` (either party; report readers
see needs, not officials)."""


@dataclass(frozen=True)
class Principal:
    """The caller: an agency (unit code) with scopes, from a verified token or a topic."""

    agency: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    subject: str = ""
    issuer: str = field(default="", compare=False)
    """Who vouched for the caller (the token's `iss`): two issuers' `sub` are two people."""

    def has(self, scope: Scope) -> bool:
        """Whether the caller holds the scope."""
        return scope.value in self.scopes


class Forbidden(Exception):
    """The caller may not do this (HTTP 403, Kafka `CommandRejected` with FORBIDDEN)."""

    def __init__(self, action: Action, reason: str) -> None:
        super().__init__(f"{action.value}: {reason}")
        self.action = action
        self.reason = reason


def acts_for(agency: str, unit: str) -> bool:
    """The agency is the unit itself or one of the units that succeeded it."""
    if agency == unit:
        return True
    data = reference_data()
    if data.unit(unit) is None:
        return False
    seen, pending = {unit}, [unit]
    while pending:
        for successor in data.successors(pending.pop()):
            if successor.code == agency:
                return True
            if successor.code not in seen:
                seen.add(successor.code)
                pending.append(successor.code)
    return False


HOME_AFFAIRS_SECTOR = "HOME_AFFAIRS"
"""The sector whose department plans secondments for every locality of the province."""


@functools.cache
def plans_for_province(agency: str) -> bool:
    """Whether the agency is the Department of Home Affairs (or its successor): a department
    that covers the home-affairs sector, on any date."""
    unit = reference_data().unit(agency)
    return (
        unit is not None and unit.hosts and any(s.code == HOME_AFFAIRS_SECTOR for s in unit.sectors)
    )


def authorize(
    principal: Principal, action: Action, *, host: str | None = None, home: str | None = None
) -> None:
    """Raise Forbidden unless the principal may perform the action on this record."""
    rule = POLICY[action]
    if not principal.has(rule.scope):
        raise Forbidden(action, f"the token lacks scope {rule.scope.value}")
    if rule.party is Party.HOME_OR_HOME_AFFAIRS:
        if plans_for_province(principal.agency) or (
            home is not None and acts_for(principal.agency, home)
        ):
            return
        raise Forbidden(
            action, f"{principal.agency} neither acts for the locality nor plans for the province"
        )
    owner = {Party.HOST: host, Party.HOME: home}.get(rule.party)
    if rule.party in (Party.HOST, Party.HOME) and (
        owner is None or not acts_for(principal.agency, owner)
    ):
        raise Forbidden(
            action, f"{principal.agency} does not act for the {rule.party.value.lower()} unit"
        )


def may_read(principal: Principal, units: Iterable[str], *, identities: bool = False) -> bool:
    """A need is readable by its parties and by report readers. A record that names an
    official (`identities`: a secondment, its history) only by its parties: report readers
    get figures, never identities (ethnic origin is sensitive personal data)."""
    if principal.has(Scope.REPORTS_READ) and not identities:
        return True
    return any(acts_for(principal.agency, unit) for unit in units)


@functools.cache
def units_acted_for(agency: str) -> frozenset[str]:
    """Every unit whose records the agency acts on: itself and the units it succeeded."""
    return frozenset(
        {agency} | {u.code for u in reference_data().units() if acts_for(agency, u.code)}
    )


KAFKA_SCOPES: frozenset[str] = frozenset(
    {Scope.NEEDS_WRITE.value, Scope.SECONDMENTS_WRITE.value, Scope.RECEPTION_WRITE.value}
)
"""What an agency may ask for over Kafka: commands only, never reads or reports."""

KAFKA_SUBJECT = "kafka"


def kafka_principal(agency: str) -> Principal:
    """The principal of a command read from `secondment.commands.v1.<agency>`.

    The topic is the identity: the broker's ACLs let only the agency's own Kafka user write
    to it, and nothing in the payload can name another agency. Every agency known to the
    reference data gets the three write scopes (a department may host, a locality may
    second; the unit kinds do not decide it), and, exactly as over HTTP, `authorize` lets it
    act only where it is the record's host or home unit (or succeeded them). A topic named
    after no known unit gets no scope: each of its commands is refused with FORBIDDEN.
    """
    known = reference_data().unit(agency) is not None
    return Principal(
        agency=agency, scopes=KAFKA_SCOPES if known else frozenset(), subject=KAFKA_SUBJECT
    )
