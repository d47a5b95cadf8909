"""What the placement service's handlers and entrypoints need from outside."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from services.placement.adapters.unit_of_work import PlacementUnitOfWork
from shared.contract.personal import Identity, IntakeSealed
from shared.phases import Phase


class IdentityIntake(Protocol):
    """Opens identities that agencies sealed for this service's published intake key."""

    def open(self, official_id: str, sealed: IntakeSealed) -> Identity:
        """The identity; ValueError (naming no content) when it does not open."""

    def jwk(self) -> dict[str, str]:
        """The public key agencies seal for, as a JSON Web Key."""


@dataclass(frozen=True)
class PlacementPorts:
    """Built by bootstrap."""

    uow: Callable[[], PlacementUnitOfWork]
    phases: Sequence[Phase]
    needs_caught_up: Callable[[], Awaitable[bool]]
    """True once the needs topic is consumed to its end (NEED_UNKNOWN vs NOT_YET_KNOWN)."""
    intake: IdentityIntake | None = None
    """None when the service has no key to seal with (no master key): sealed identities are
    refused."""
