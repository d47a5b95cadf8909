"""What the placement service's use cases need from the outside world, as protocols.

`bootstrap.py` wires the SQLAlchemy adapter (`adapters/unit_of_work.py`) and the key vault;
the unit tests wire in-memory fakes (`tests/unit/fakes.py`). Nothing here knows which.
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from services.placement.domain.plan import SecondmentPlan
from services.placement.domain.secondment import Secondment
from services.placement.domain.views import NeedSnapshot, OfficialSpell
from shared.contract.events import EventData
from shared.contract.personal import Identity, IntakeSealed
from shared.phases import Phase
from shared.seedwork.ports import Repository, UnitOfWork


class OfficialKeys(Protocol):
    """The officials' keys, kept apart from the events sealed with them."""

    async def erase(self, official_id: str) -> bool:
        """Delete the official's key for good; False when there was none (already erased)."""
        ...


class PlacementUnitOfWork(UnitOfWork, Protocol):
    """The secondments' streams, the needs as consumed from the needs topic, the
    secondments' list rows and the remembered answers, in one transaction."""

    @property
    def secondments(self) -> Repository[Secondment]:
        """The secondments' streams."""
        ...

    @property
    def vault(self) -> OfficialKeys:
        """The officials' keys (their own store: an erasure deletes one)."""
        ...

    async def need(self, need_id: str, *, lock_official: str | None = None) -> NeedSnapshot | None:
        """The need as last consumed from the needs topic; with `lock_official`, that
        official's turn for `spells` is taken with it (one round trip fewer)."""
        ...

    async def take_position(self, need_id: str) -> bool:
        """Take one open position of the need; False when none is left."""
        ...

    async def release_position(self, need_id: str) -> None:
        """Give a position back (a cancelled secondment)."""
        ...

    async def spells(self, official_id: str, home_units: Iterable[str]) -> list[OfficialSpell]:
        """The official's secondments, for the rules on overlaps and totals."""
        ...

    async def spells_taking_position(
        self, official_id: str, home_units: Iterable[str], need_id: str
    ) -> tuple[list[OfficialSpell], bool]:
        """`spells` and `take_position` at once (one statement on PostgreSQL). The position is
        taken before the rules are checked: a refusal must roll the transaction back, so not
        in a shared one (a refusal there after a write ends the run, ADR 0008)."""
        ...

    async def write_view(self, s: Secondment, body: dict[str, object]) -> None:
        """Keep the secondment's list row in step with its events."""
        ...

    async def list_secondments(
        self,
        *,
        after: int,
        limit: int,
        filters: dict[str, str | None],
        visible_units: frozenset[str] | None = None,
    ) -> list[tuple[int, dict[str, object]]]:
        """(position, body) of secondments after a position, oldest first."""
        ...

    async def apply_need_events(self, events: Sequence[tuple[int, EventData]]) -> None:
        """Project needs-topic events (aggregate version, event), in partition order, into
        the needs this service knows."""
        ...

    async def redact_answers(self, official_id: str) -> int:
        """Remembered answers lose the official's identity; how many changed."""
        ...


class IdentityIntake(Protocol):
    """Opens identities that agencies sealed for this service's published intake key."""

    def open(self, official_id: str, sealed: IntakeSealed) -> Identity:
        """The identity; ValueError (naming no content) when it does not open."""

    def jwk(self) -> dict[str, str]:
        """The public key agencies seal for, as a JSON Web Key."""


@dataclass(frozen=True)
class PlacementPorts:
    """Built by bootstrap; the unit tests build it with fakes."""

    uow: Callable[[], PlacementUnitOfWork]
    phases: Sequence[Phase]
    needs_caught_up: Callable[[], Awaitable[bool]]
    """True once the needs topic is consumed to its end (NEED_UNKNOWN vs NOT_YET_KNOWN)."""
    intake: IdentityIntake | None = None
    """None when the service has no key to seal with (no master key): sealed identities are
    refused."""


class PlansUnitOfWork(UnitOfWork, Protocol):
    """The locality plans' streams and their index (one plan per locality and phase), in the
    placement service's database, outbox and remembered answers."""

    @property
    def plans(self) -> Repository[SecondmentPlan]:
        """The plans' streams."""
        ...

    async def plan_of(self, home_unit: str, phase_id: str) -> str | None:
        """The id of the locality's plan for the phase, if it has one."""
        ...

    async def index_plan(self, plan: SecondmentPlan) -> None:
        """Record a new plan under its locality and phase; PLAN_ALREADY_ADOPTED when another
        request recorded one first."""
        ...


@dataclass(frozen=True)
class PlanPorts:
    """What the plans' routes need; built by bootstrap."""

    uow: Callable[[], PlansUnitOfWork]
    phases: Sequence[Phase]
