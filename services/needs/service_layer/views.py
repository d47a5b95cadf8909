"""What callers see of a need."""

from services.needs.domain.need import Need, NeedStatus
from shared.contract.events import NeedRaised


class NeedView(NeedRaised):
    """A need with where it stands."""

    status: NeedStatus
    positions_filled: int


def need_view(need: Need) -> NeedView:
    """The view of an aggregate."""
    return NeedView(
        **need.raised.model_dump(), status=need.status, positions_filled=need.positions_filled
    )
