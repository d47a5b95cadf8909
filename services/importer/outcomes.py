"""What an import did, row by row: the outcome of each row, why a refused row stopped, and
the run's totals (printed by the command line, returned by the import API)."""

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from services.importer.readers import SourceRow


class Step(StrEnum):
    """The steps of a row, in order."""

    READ = "read"
    NEED = "need"
    SECONDMENT = "secondment"
    RECEPTION = "reception"
    ENDING = "ending"
    POST_ARRANGEMENT = "post_arrangement"


class Outcome(StrEnum):
    """What became of a row."""

    IMPORTED = "imported"
    """At least one step was recorded by this run, none refused."""
    PRESENT = "already_present"
    """Every step of the row was recorded already; nothing written."""
    REFUSED = "refused"
    """A step was refused; earlier steps may have been recorded."""


@dataclass(frozen=True)
class Refusal:
    """Why a row stopped: the step, the rule code (the API's, or `INVALID_REQUEST` for a
    cell the importer cannot read) and the message."""

    step: Step
    rule: str
    message: str
    status: int | None = None


@dataclass
class RowResult:
    """One row's outcome."""

    row: SourceRow
    outcome: Outcome = Outcome.PRESENT
    recorded: list[Step] = field(default_factory=list)
    """Steps this run recorded."""
    found: list[Step] = field(default_factory=list)
    """Steps an earlier run (or someone else) had recorded already."""
    refusal: Refusal | None = None
    need_id: str | None = None
    secondment_id: str | None = None


@dataclass
class ImportReport:
    """Every row's outcome, in file order, and the run's duration."""

    results: list[RowResult] = field(default_factory=list)
    seconds: float = 0.0
    aborted: str | None = None
    """Why the run stopped before the last row (API unreachable, token refused), if it did."""

    def count(self, outcome: Outcome) -> int:
        """Rows with this outcome."""
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def imported(self) -> int:
        """Rows this run recorded something for."""
        return self.count(Outcome.IMPORTED)

    @property
    def present(self) -> int:
        """Rows found complete."""
        return self.count(Outcome.PRESENT)

    @property
    def refused(self) -> list[RowResult]:
        """Rows refused, in file order."""
        return [r for r in self.results if r.outcome is Outcome.REFUSED]

    def by_rule(self) -> Counter[str]:
        """Refused rows per rule code."""
        return Counter(r.refusal.rule for r in self.refused if r.refusal is not None)


class Refused(Exception):
    """A step was refused; carries the refusal to the row's result."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class ImportAborted(Exception):
    """The API did not answer, or refused the credentials: the import stops there. What it
    recorded stays; a second run goes on from where this one stopped."""
