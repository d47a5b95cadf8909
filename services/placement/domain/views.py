"""What the placement service knows of other aggregates, as plain values for the rules."""

import datetime as dt
from dataclasses import dataclass

from shared.contract.types import UnitRef


@dataclass(frozen=True)
class NeedSnapshot:
    """The placement service's view of a need, built from the needs topic."""

    need_id: str
    host_unit: UnitRef
    sector: str
    positions: int
    min_rank: str
    status: str
    taken: int


@dataclass(frozen=True)
class OfficialSpell:
    """One of the official's secondments (for the overlap rule): from its start to its
    actual end if it ended, else its planned end; a cancelled one is not `active`."""

    secondment_id: str
    start_date: dt.date
    end_date: dt.date
    active: bool
