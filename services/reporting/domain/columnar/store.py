"""The snapshot: one generation of the read models as columns, and how the adapter's rows
(in the documented column order) are put into it."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from services.reporting.domain.columnar.columns import (
    NEVER,
    Array,
    History,
    Keyed,
    Vocabulary,
    days,
    flags,
    ints,
)


def _defaults(dates: Sequence[str], codes: Sequence[str], bools: Sequence[str]) -> dict[str, Any]:
    out: dict[str, tuple[Any, Any]] = {}
    out.update({d: (np.int32, NEVER) for d in dates})
    out.update({c: (np.int32, -1) for c in codes})
    out.update({b: (np.bool_, False) for b in bools})
    return out


SECONDMENT_DATES = (
    "start",
    "planned_end",
    "ended",
    "cancelled",
    "ext_decided",
    "ext_end",
    "arr_on",
    "received",
)
SECONDMENT_CODES = (
    "need",
    "official",
    "home",
    "host",
    "sector",
    "ethnicity",
    "gender",
    "reason",
    "rating",
    "arrangement",
    "destination",
)
NEED_DATES = ("raised", "withdrawn", "filled", "amended", "am_raised")
NEED_CODES = ("host", "sector", "positions", "am_host", "am_sector", "am_positions")
FILLED, REOPENED = 1, 0


@dataclass
class Snapshot:
    """One generation of the read models in memory."""

    units: Vocabulary = field(default_factory=Vocabulary)
    sectors: Vocabulary = field(default_factory=Vocabulary)
    ethnicities: Vocabulary = field(default_factory=Vocabulary)
    genders: Vocabulary = field(default_factory=Vocabulary)
    officials: Vocabulary = field(default_factory=Vocabulary)
    reasons: Vocabulary = field(default_factory=Vocabulary)
    ratings: Vocabulary = field(default_factory=Vocabulary)
    arrangements: Vocabulary = field(default_factory=Vocabulary)
    secondments: Keyed = field(
        default_factory=lambda: Keyed(
            _defaults(SECONDMENT_DATES, SECONDMENT_CODES, ("ext_multi", "arr_multi"))
        )
    )
    needs: Keyed = field(
        default_factory=lambda: Keyed(_defaults(NEED_DATES, NEED_CODES, ("reopened", "am_multi")))
    )
    extensions: History = field(default_factory=lambda: History(("end",)))
    arrangement_history: History = field(default_factory=lambda: History(("code", "destination")))
    promotions: History = field(default_factory=lambda: History(()))
    """Promotions after the return: only their dates count."""
    amendments: History = field(
        default_factory=lambda: History(("host", "sector", "positions", "raised"))
    )
    fills: History = field(default_factory=lambda: History(("kind",)))
    _by_official: Array | None = field(default=None, init=False, repr=False, compare=False)

    def by_official(self) -> Array:
        """Every secondment's row number, ordered by official (stable). Kept until the
        secondments change, so the evaluations between two refreshes share one sort where
        each counted distinct officials with sorts of its own (a third of an evaluation's
        time at the bench's million events)."""
        official = self.secondments.columns["official"]
        if self._by_official is None or len(self._by_official) != len(official):
            self._by_official = np.argsort(official, kind="stable")
        return self._by_official

    # ----- loading: rows as the adapter reads them, in the documented column order -----

    def put_secondments(self, rows: Sequence[Sequence[Any]]) -> Array:
        """Rows of (secondment_id, need_id, official_id, home_unit, host_unit, sector,
        ethnicity, gender, start_date, planned_end_date, ended_on, end_reason, rating,
        cancelled_on, ext_multi, ext_decided_on, ext_planned_end, arr_multi, arrangement,
        arr_effective, received_on, arr_destination); returns their row numbers."""
        if not rows:
            return np.zeros(0, dtype=np.int64)
        c = list(zip(*rows, strict=True))
        self._by_official = None
        positions = self.secondments.positions(c[0])
        need_rows = self.needs.positions([n for n in c[1] if n is not None])
        need = np.full(len(rows), -1, dtype=np.int64)
        need[[i for i, n in enumerate(c[1]) if n is not None]] = need_rows
        self.secondments.set(
            positions,
            {
                "need": need,
                "official": self.officials.codes(c[2]),
                "home": self.units.codes(c[3]),
                "host": self.units.codes(c[4]),
                "sector": self.sectors.codes(c[5]),
                "ethnicity": self.ethnicities.codes(c[6]),
                "gender": self.genders.codes(c[7]),
                "start": days(c[8]),
                "planned_end": days(c[9]),
                "ended": days(c[10]),
                "reason": self.reasons.codes(c[11]),
                "rating": self.ratings.codes(c[12]),
                "cancelled": days(c[13]),
                "ext_multi": flags(c[14]),
                "ext_decided": days(c[15]),
                "ext_end": days(c[16]),
                "arr_multi": flags(c[17]),
                "arrangement": self.arrangements.codes(c[18]),
                "arr_on": days(c[19]),
                "received": days(c[20]),
                "destination": self.units.codes(c[21]),
            },
        )
        return positions

    def put_needs(self, rows: Sequence[Sequence[Any]]) -> Array:
        """Rows of (need_id, host_unit, sector, positions, raised_on, withdrawn_on,
        filled_on, reopened, am_multi, amended_on, am_host_unit, am_sector, am_positions,
        am_raised_on); returns their row numbers."""
        if not rows:
            return np.zeros(0, dtype=np.int64)
        c = list(zip(*rows, strict=True))
        positions = self.needs.positions(c[0])
        self.needs.set(
            positions,
            {
                "host": self.units.codes(c[1]),
                "sector": self.sectors.codes(c[2]),
                "positions": ints(c[3]),
                "raised": days(c[4]),
                "withdrawn": days(c[5]),
                "filled": days(c[6]),
                "reopened": flags(c[7]),
                "am_multi": flags(c[8]),
                "amended": days(c[9]),
                "am_host": self.units.codes(c[10]),
                "am_sector": self.sectors.codes(c[11]),
                "am_positions": ints(c[12]),
                "am_raised": days(c[13]),
            },
        )
        return positions

    def put_extensions(self, owners: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """The complete extension history of the secondments `owners`: rows of
        (secondment_id, version, decided_on, new_planned_end_date)."""
        c = _columns(rows, 4)
        self.extensions.replace(
            self.secondments.positions(owners),
            {
                "owner": self.secondments.positions(c[0]),
                "version": ints(c[1]),
                "on": days(c[2]),
                "end": days(c[3]),
            },
        )

    def put_arrangements(self, owners: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (secondment_id, version, effective_date, arrangement, destination_unit)."""
        c = _columns(rows, 5)
        self.arrangement_history.replace(
            self.secondments.positions(owners),
            {
                "owner": self.secondments.positions(c[0]),
                "version": ints(c[1]),
                "on": days(c[2]),
                "code": self.arrangements.codes(c[3]),
                "destination": self.units.codes(c[4]),
            },
        )

    def put_promotions(self, owners: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (secondment_id, version, promoted_on)."""
        c = _columns(rows, 3)
        self.promotions.replace(
            self.secondments.positions(owners),
            {
                "owner": self.secondments.positions(c[0]),
                "version": ints(c[1]),
                "on": days(c[2]),
            },
        )

    def put_amendments(self, owners: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (need_id, version, amended_on, host_unit, sector, positions, raised_on)."""
        c = _columns(rows, 7)
        self.amendments.replace(
            self.needs.positions(owners),
            {
                "owner": self.needs.positions(c[0]),
                "version": ints(c[1]),
                "on": days(c[2]),
                "host": self.units.codes(c[3]),
                "sector": self.sectors.codes(c[4]),
                "positions": ints(c[5]),
                # a missing date must read "not set" (-1) for `latest(known=True)`
                "raised": np.fromiter(
                    (-1 if v is None else v.toordinal() for v in c[6]), dtype=np.int32
                ),
            },
        )

    def put_fills(self, owners: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (need_id, version, on_date, kind)."""
        c = _columns(rows, 4)
        self.fills.replace(
            self.needs.positions(owners),
            {
                "owner": self.needs.positions(c[0]),
                "version": ints(c[1]),
                "on": days(c[2]),
                "kind": np.fromiter(
                    (FILLED if k == "FILLED" else REOPENED for k in c[3]), dtype=np.int32
                ),
            },
        )


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    if not rows:
        return [() for _ in range(width)]
    return list(zip(*rows, strict=True))
