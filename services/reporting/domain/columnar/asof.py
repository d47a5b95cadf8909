"""The selection and the as-of rules: which secondments and needs count, and their planned
end, amended fields and open state as at a day (shared by the tally, the timeline and the
alerts, so the rules exist once)."""

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from services.reporting.domain.columnar.columns import NEVER, Array, Vocabulary
from services.reporting.domain.columnar.store import FILLED, Snapshot


@dataclass(frozen=True)
class Selection:
    """Which facts count: secondments started and needs raised from `first` to `last`, as at
    the end of `as_of`, restricted by the filters (already expanded to unit codes)."""

    first: dt.date
    last: dt.date
    as_of: dt.date
    home_units: Collection[str] | None = None
    host_units: Collection[str] | None = None
    sector: str | None = None


def among(vocabulary: Vocabulary, wanted: Collection[str]) -> Array:
    """Numbers of the wanted values that were ever seen (an unseen one matches nothing)."""
    return np.array([c for c in (vocabulary.find(v) for v in wanted) if c >= 0], dtype=np.int32)


def equal(codes: Array, vocabulary: Vocabulary, wanted: str) -> Array:
    """Where the codes stand for `wanted` (nowhere if it was never seen)."""
    code = vocabulary.find(wanted)
    if code < 0:
        return np.zeros(len(codes), dtype=np.bool_)
    return codes == code  # type: ignore[no-any-return]


def counted_secondments(snapshot: Snapshot) -> Array:
    """Secondments that count at all: started (an official) and never cancelled."""
    s = snapshot.secondments.columns
    return (s["official"] >= 0) & (s["cancelled"] == NEVER)  # type: ignore[no-any-return]


def chosen_secondments(snapshot: Snapshot, selection: Selection, counted: Array) -> Array:
    """Secondments of the selection: counted, started in the window, matching the filters."""
    s = snapshot.secondments.columns
    chosen = (
        counted
        & (s["start"] >= selection.first.toordinal())
        & (s["start"] <= selection.last.toordinal())
    )
    if selection.home_units is not None:
        chosen &= np.isin(s["home"], among(snapshot.units, selection.home_units))
    if selection.host_units is not None:
        chosen &= np.isin(s["host"], among(snapshot.units, selection.host_units))
    if selection.sector is not None:
        chosen &= equal(s["sector"], snapshot.sectors, selection.sector)
    return chosen


def planned_ends(snapshot: Snapshot, on: int, rows: Array) -> Array:
    """Planned end of the rows after the extensions decided by the day."""
    s = snapshot.secondments.columns
    latest = snapshot.extensions.latest(len(snapshot.secondments), on, "end")[rows]
    base = s["planned_end"][rows]
    return np.where(
        s["ext_multi"][rows],
        np.where(latest != -1, latest, base),
        np.where(s["ext_decided"][rows] <= on, s["ext_end"][rows], base),
    )


def need_fields(snapshot: Snapshot, on: int) -> dict[str, Array]:
    """Every need's raised_on, host, sector and positions as amended by the day."""
    n = snapshot.needs.columns
    size = len(snapshot.needs)
    history = snapshot.amendments

    def as_of(name: str, amended: str, base: str, unset: int) -> Array:
        latest = history.latest(size, on, name, known=True)
        return np.where(
            n["am_multi"],
            np.where(latest != -1, latest, n[base]),
            np.where((n["amended"] <= on) & (n[amended] != unset), n[amended], n[base]),
        )

    return {
        "raised": as_of("raised", "am_raised", "raised", NEVER),
        "host": as_of("host", "am_host", "host", -1),
        "sector": as_of("sector", "am_sector", "sector", -1),
        "positions": as_of("positions", "am_positions", "positions", -1),
    }


def open_state(snapshot: Snapshot, on: int, rows: Array) -> tuple[Array, Array]:
    """(withdrawn, filled) of the rows by the day: filled = every position taken (the latest
    of NeedFilled / NeedReopened), not withdrawn."""
    n = snapshot.needs.columns
    withdrawn = n["withdrawn"][rows] <= on
    latest_kind = snapshot.fills.latest(len(snapshot.needs), on, "kind")[rows]
    filled = (
        np.where(n["reopened"][rows], latest_kind == FILLED, n["filled"][rows] <= on) & ~withdrawn
    )
    return withdrawn, filled
