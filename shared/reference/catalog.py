"""The reference-data catalog: loaded once from the package, checked, then read-only.

Every service asks the same questions of it (is this home unit mountainous on the decision
date? is this rank at least the minimum? what was this unit called then?), so the answers live
here and nowhere else.
"""

import datetime as dt
import functools
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final, TypedDict, TypeVar

from pydantic import BaseModel, TypeAdapter

from shared.reference.models import Ethnicity, Rank, Sector, Subgroup, Unit

RANKS_FILE_ENV: Final = "SECONDMENT_RANKS_FILE"
"""Environment variable naming a JSON file that replaces the packaged rank table."""

ETHNIC_GROUP_COUNT: Final = 54

_DATA = "data"


class ReferenceDataError(ValueError):
    """The data files contradict themselves; every problem found is listed."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("invalid reference data:\n- " + "\n- ".join(problems))
        self.problems = tuple(problems)


class UnknownReferenceError(KeyError):
    """A code that the reference data has never held (a typo, or data from elsewhere)."""

    def __init__(self, table: str, code: str) -> None:
        super().__init__(f"unknown {table} code {code!r}")
        self.table = table
        self.code = code


class UnitNotValidError(LookupError):
    """A known unit asked for on a date when it did not exist."""

    def __init__(self, code: str, on: dt.date) -> None:
        super().__init__(f"unit {code!r} did not exist on {on.isoformat()}")
        self.code = code
        self.on = on


class UnitRefDict(TypedDict):
    """A unit's code and its name on a given date; `shared.contract.types.UnitRef(**ref)`."""

    code: str
    name: str


_M = TypeVar("_M", bound=BaseModel)
_D = TypeVar("_D", Unit, Rank, Sector)


def _valid(items: Iterable[_D], on: dt.date | None) -> list[_D]:
    return [i for i in items if on is None or i.valid_on(on)]


def _valid_one(table: Mapping[str, _D], code: str, on: dt.date | None) -> _D | None:
    """The entry of `code`, or None if unknown or not in use on `on` (any date if None)."""
    found = table.get(code)
    if found is None or (on is not None and not found.valid_on(on)):
        return None
    return found


class ReferenceData:
    """Units, ranks, sectors and ethnic groups, with the date-aware questions asked of them."""

    def __init__(
        self,
        *,
        units: Sequence[Unit],
        ranks: Sequence[Rank],
        sectors: Sequence[Sector],
        ethnicities: Sequence[Ethnicity],
        version: str = "unversioned",
        ranks_source: str = "package",
    ) -> None:
        """Build and validate a catalog; raises ReferenceDataError listing every problem."""
        self.version = version
        self.ranks_source = ranks_source
        self._units = {u.code: u for u in units}
        self._ranks = {r.code: r for r in sorted(ranks, key=lambda r: (r.order, r.code))}
        self._sectors = {s.code: s for s in sectors}
        self._ethnicities = {e.code: e for e in sorted(ethnicities, key=lambda e: e.gso_number)}
        problems = _check(units, ranks, sectors, ethnicities)
        if problems:
            raise ReferenceDataError(problems)

    # ----- loading ----------------------------------------------------------------------------

    @classmethod
    def load(cls, ranks_file: Path | str | None = None) -> "ReferenceData":
        """Read the packaged data; `ranks_file`, if given, replaces the packaged rank table."""
        docs = {
            n: _read_packaged(f"{n}.json") for n in ("units", "ranks", "sectors", "ethnicities")
        }
        versions = {str(doc.get("version")) for doc in docs.values()}
        if len(versions) != 1:
            raise ReferenceDataError([f"packaged files disagree on version: {sorted(versions)}"])
        ranks_source = "package"
        if ranks_file is not None:
            ranks_source = str(ranks_file)
            text = Path(ranks_file).read_text(encoding="utf-8")
            docs["ranks"] = _read_json(text, ranks_source)
        return cls(
            units=_items(docs["units"], Unit),
            ranks=_items(docs["ranks"], Rank),
            sectors=_items(docs["sectors"], Sector),
            ethnicities=_items(docs["ethnicities"], Ethnicity),
            version=versions.pop(),
            ranks_source=ranks_source,
        )

    # ----- units ------------------------------------------------------------------------------

    def unit(self, code: str, on: dt.date | None = None) -> Unit | None:
        """The unit as it was on `on` (its latest state if None); None if unknown or not valid."""
        found = _valid_one(self._units, code, on)
        return None if found is None else found.as_of(on)

    def units(self, valid_on: dt.date | None = None, kind: str | None = None) -> list[Unit]:
        """Units valid on a date (all if None), optionally of one kind, in data-file order."""
        return [
            u.as_of(valid_on)
            for u in _valid(self._units.values(), valid_on)
            if kind is None or u.kind == kind
        ]

    def is_mountainous(self, code: str, on: dt.date) -> bool:
        """Whether the unit existed on `on` and was mountainous then (the plan's home rule)."""
        self._require_unit(code)
        found = self.unit(code, on)
        return found is not None and found.mountainous

    def mountainous_within(self, unit: Unit, start: dt.date, last: dt.date) -> bool:
        """Whether the unit was mountainous on its first or last day in force within
        `start`..`last` (a dated change may make it so part way); False when not in force."""
        first = max(start, unit.valid_from or start)
        final = min(last, unit.valid_to or last)
        return first <= final and (
            self.is_mountainous(unit.code, first) or self.is_mountainous(unit.code, final)
        )

    def unit_ref(self, code: str, on: dt.date) -> UnitRefDict:
        """Code and name as on `on`, for an event to keep; raises if the unit did not exist."""
        self._require_unit(code)
        found = self.unit(code, on)
        if found is None:
            raise UnitNotValidError(code, on)
        return UnitRefDict(code=found.code, name=found.name)

    def rollup(self, code: str) -> str:
        """The unit that reports group this one under (its rollup_to, else itself)."""
        return self._require_unit(code).rollup_to or code

    def successors(self, code: str, on: dt.date | None = None) -> list[Unit]:
        """Direct successors; with `on`, follow the chain to the successors valid on that date."""
        start = self._require_unit(code)
        if on is None:
            return [self._units[s] for s in start.successors]
        found: dict[str, Unit] = {}
        seen: set[str] = set()
        pending = list(start.successors)
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            unit = self._units[current]
            if unit.valid_on(on):
                found[current] = unit.as_of(on)
            elif unit.valid_to is not None and unit.valid_to < on:
                pending.extend(unit.successors)
        return list(found.values())

    # ----- ranks ------------------------------------------------------------------------------

    def rank(self, code: str, on: dt.date | None = None) -> Rank | None:
        """The rank, or None if unknown or not in use on `on`."""
        return _valid_one(self._ranks, code, on)

    def ranks(self, valid_on: dt.date | None = None) -> list[Rank]:
        """Ranks in use on a date (all if None), lowest first."""
        return _valid(self._ranks.values(), valid_on)

    def rank_at_least(self, code: str, minimum_code: str) -> bool:
        """Whether `code` is the same as or above `minimum_code`; unknown codes raise."""
        return self._require_rank(code).order >= self._require_rank(minimum_code).order

    def lowest_eligible_rank(self) -> Rank:
        """The lowest rank the plan accepts (deputy head of division in the packaged table)."""
        return next(r for r in self._ranks.values() if r.eligible)

    # ----- sectors ----------------------------------------------------------------------------

    def sector(self, code: str, on: dt.date | None = None) -> Sector | None:
        """The sector, or None if unknown or not in use on `on`."""
        return _valid_one(self._sectors, code, on)

    def sectors(self, valid_on: dt.date | None = None) -> list[Sector]:
        """Sectors in use on a date (all if None), in data-file order."""
        return _valid(self._sectors.values(), valid_on)

    # ----- ethnic groups ----------------------------------------------------------------------

    def ethnicity(self, code: str) -> Ethnicity | None:
        """The ethnic group, or None if unknown."""
        return self._ethnicities.get(code)

    def ethnicities(self) -> list[Ethnicity]:
        """All 54 ethnic groups in the statistics office's order."""
        return list(self._ethnicities.values())

    def is_minority(self, code: str) -> bool:
        """Whether the group is an ethnic minority (all but Kinh); unknown codes raise."""
        found = self._ethnicities.get(code)
        if found is None:
            raise UnknownReferenceError("ethnicity", code)
        return found.minority

    def subgroup(self, ethnicity_code: str, subgroup_code: str) -> Subgroup | None:
        """The local subgroup of that ethnic group, or None if either is unknown."""
        found = self._ethnicities.get(ethnicity_code)
        return None if found is None else found.subgroup(subgroup_code)

    # ----- helpers ----------------------------------------------------------------------------

    def _require_unit(self, code: str) -> Unit:
        found = self._units.get(code)
        if found is None:
            raise UnknownReferenceError("unit", code)
        return found

    def _require_rank(self, code: str) -> Rank:
        found = self._ranks.get(code)
        if found is None:
            raise UnknownReferenceError("rank", code)
        return found


@functools.cache
def reference_data() -> ReferenceData:
    """The process-wide catalog, loaded on first use (never at import time).

    Reads SECONDMENT_RANKS_FILE once; call `reference_data.cache_clear()` after changing it.
    """
    return ReferenceData.load(ranks_file=os.environ.get(RANKS_FILE_ENV) or None)


# ----- reading ------------------------------------------------------------------------------


def _read_packaged(name: str) -> dict[str, Any]:
    resource = resources.files("shared.reference").joinpath(_DATA, name)
    return _read_json(resource.read_text(encoding="utf-8"), name)


def _read_json(text: str, source: str) -> dict[str, Any]:
    doc = json.loads(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ReferenceDataError([f"{source}: expected an object with an 'items' list"])
    return doc


def _items(doc: dict[str, Any], model: type[_M]) -> list[_M]:
    return TypeAdapter(list[model]).validate_python(doc["items"])  # type: ignore[valid-type]


# ----- validation ---------------------------------------------------------------------------


def _check(
    units: Sequence[Unit],
    ranks: Sequence[Rank],
    sectors: Sequence[Sector],
    ethnicities: Sequence[Ethnicity],
) -> list[str]:
    problems: list[str] = []
    for table, codes in (
        ("unit", [u.code for u in units]),
        ("rank", [r.code for r in ranks]),
        ("sector", [s.code for s in sectors]),
        ("ethnicity", [e.code for e in ethnicities]),
    ):
        problems += [f"duplicate {table} code {c}" for c in _duplicates(codes)]
    dated: list[Unit | Rank | Sector | Ethnicity] = [*units, *ranks, *sectors, *ethnicities]
    for item in dated:
        if item.valid_from and item.valid_to and item.valid_from > item.valid_to:
            problems.append(f"{item.code}: valid_from is after valid_to")
    problems += _check_units({u.code: u for u in units})
    problems += _check_ranks(ranks)
    problems += _check_ethnicities(ethnicities)
    return problems


def _check_units(by_code: dict[str, Unit]) -> list[str]:
    problems: list[str] = []

    def known(owner: str, field: str, code: str) -> Unit | None:
        target = by_code.get(code)
        if target is None:
            problems.append(f"{owner}: {field} {code} is not a unit")
        return target

    for unit in by_code.values():
        day_after = unit.valid_to + dt.timedelta(days=1) if unit.valid_to else None
        if unit.parent is not None and (parent := known(unit.code, "parent", unit.parent)):
            inside = parent.valid_on(unit.valid_from) and (
                parent.valid_to is None
                or (unit.valid_to is not None and unit.valid_to <= parent.valid_to)
            )
            if not inside:
                problems.append(f"{unit.code}: valid outside its parent {parent.code}")
        if unit.successors and day_after is None:
            problems.append(f"{unit.code}: has successors but no valid_to")
        for code in unit.successors:
            successor = known(unit.code, "successor", code)
            if successor and day_after and not successor.valid_on(day_after):
                problems.append(f"{unit.code}: successor {code} not valid on {day_after}")
        if unit.rollup_to is not None and (target := known(unit.code, "rollup_to", unit.rollup_to)):
            if target.rollup_to not in (None, target.code):
                problems.append(f"{unit.code}: rollup_to {target.code} is itself rolled up")
            if target.valid_to is not None:
                problems.append(f"{unit.code}: rollup_to {target.code} has ended")
        for change in unit.changes:
            if not unit.valid_on(change.on):
                problems.append(f"{unit.code}: change on {change.on} outside its validity")
    return problems


def _check_ranks(ranks: Sequence[Rank]) -> list[str]:
    eligible = [r.order for r in ranks if r.eligible]
    if not eligible:
        return ["no eligible rank"]
    lowest = min(eligible)
    return [
        f"rank {r.code} is not eligible but not below the lowest eligible order {lowest}"
        for r in ranks
        if not r.eligible and r.order >= lowest
    ]


def _check_ethnicities(ethnicities: Sequence[Ethnicity]) -> list[str]:
    problems: list[str] = []
    if len(ethnicities) != ETHNIC_GROUP_COUNT:
        problems.append(f"{len(ethnicities)} ethnic groups, expected {ETHNIC_GROUP_COUNT}")
    numbers = sorted(e.gso_number for e in ethnicities)
    if numbers != list(range(1, len(ethnicities) + 1)):
        problems.append("GSO numbers are not 1..N, each once")
    majority = [e.code for e in ethnicities if not e.minority]
    if len(majority) != 1:
        problems.append(f"expected exactly one non-minority group, found {majority}")
    for e in ethnicities:
        problems += [
            f"{e.code}: duplicate subgroup {c}" for c in _duplicates(s.code for s in e.subgroups)
        ]
    return problems


def _duplicates(codes: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dupes: list[str] = []
    for code in codes:
        if code in seen and code not in dupes:
            dupes.append(code)
        seen.add(code)
    return dupes


__all__ = [
    "RANKS_FILE_ENV",
    "ReferenceData",
    "ReferenceDataError",
    "UnitNotValidError",
    "UnitRefDict",
    "UnknownReferenceError",
    "reference_data",
]
