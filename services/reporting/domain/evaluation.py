"""The phase evaluation leadership reads: definitions, the shape of the answer, and the pure
arithmetic that turns the database's grouped counts into it (roll-ups, distinct officials,
durations, rates, small-cell protection). No I/O here: `adapters/queries.py` asks the
database, this module assembles.
"""

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.phases import Phase

Rollup = Literal["none", "successor"]
RATINGS = ("EXCELLENT", "GOOD", "COMPLETED", "NOT_COMPLETED")
ARRANGEMENTS = ("RETURNED_TO_FORMER_POST", "PROMOTED", "TRANSFERRED", "OTHER")
SECONDMENT_COUNTS = (
    "started",
    "active",
    "ended",
    "completed",
    "terminated_early",
    "overdue",
    "officials",
)
NEED_COUNTS = ("raised", "withdrawn", "filled", "positions_requested", "positions_filled")
DIMENSIONS = ("home_unit", "host_unit", "sector", "ethnicity", "gender")


class Filters(BaseModel):
    """Where a filter means something: `home_unit` restricts secondments only."""

    model_config = ConfigDict(frozen=True)

    home_unit: str | None = None
    host_unit: str | None = None
    sector: str | None = None


class NeedsBlock(BaseModel):
    """Needs of the phase (by `raised_on`) as at the end of `as_of`."""

    raised: int
    withdrawn: int
    filled: int = Field(
        description="every position taken (NeedFilled, not since reopened), not withdrawn"
    )
    open: int = Field(description="raised − withdrawn − filled")
    positions_requested: int = Field(
        description="positions as amended by as_of, withdrawn needs included"
    )
    positions_filled: int = Field(
        description="per need, secondments started by as_of (any home unit), at most its positions"
    )
    fill_rate: float | None = Field(
        description="positions_filled / positions_requested; null when nothing was requested"
    )


class SecondmentsBlock(BaseModel):
    """Secondments of the phase (by `start_date`) as at the end of `as_of`."""

    started: int
    active: int
    ended: int
    completed: int
    terminated_early: int
    overdue: int = Field(
        description="active, and its planned end (as extended by as_of) before as_of"
    )
    officials: int = Field(description="distinct officials")


class ProtectedSecondmentsBlock(BaseModel):
    """A secondments block in which small cells are null (see the group's `suppressed`)."""

    started: int | None
    active: int | None
    ended: int | None
    completed: int | None
    terminated_early: int | None
    overdue: int | None
    officials: int | None


class DurationStats(BaseModel):
    """Days from start to end of the ended secondments; null when none ended."""

    mean: float | None
    median: float | None
    max: int | None


class UnitGroup(BaseModel):
    """One group of a breakdown."""

    secondments: SecondmentsBlock
    promoted: int


class HostGroup(BaseModel):
    """One group of `by_host_unit` or `by_sector`: needs too."""

    needs: NeedsBlock
    secondments: SecondmentsBlock
    promoted: int


class EthnicGroup(BaseModel):
    """One ethnic group: small cells null and named in `suppressed`."""

    secondments: ProtectedSecondmentsBlock
    promoted: int | None
    suppressed: list[str] = Field(description="cells withheld, e.g. `secondments.active`")


class Evaluation(BaseModel):
    """One phase's evaluation."""

    phase_id: str
    as_of: dt.date
    filters: Filters
    rollup: Rollup = "none"
    needs: NeedsBlock
    secondments: SecondmentsBlock
    duration_days: DurationStats
    ratings: dict[str, int]
    post_arrangements: dict[str, int]
    promotion_rate: float | None = Field(description="promoted / ended; null when none ended")
    by_home_unit: dict[str, UnitGroup]
    by_host_unit: dict[str, HostGroup]
    by_sector: dict[str, HostGroup]
    by_ethnicity: dict[str, EthnicGroup]
    by_gender: dict[str, UnitGroup]
    small_cell_threshold: int = Field(
        description="counts from 1 to threshold − 1 are withheld in the ethnicity breakdown"
    )


def counting_window(phase: Phase, as_of: dt.date) -> tuple[dt.date, dt.date] | None:
    """The dates whose facts count: from the phase's start to the earlier of its end and
    `as_of`; None when `as_of` is before the phase started."""
    last = min(phase.ends_on, as_of)
    if last < phase.starts_on:
        return None
    return phase.starts_on, last


def ratio(part: int, whole: int) -> float | None:
    """part / whole to 4 decimals; undefined when the whole is zero."""
    return round(part / whole, 4) if whole else None


fill_rate = ratio


# ----- what the database hands over ------------------------------------------------------


@dataclass(frozen=True)
class SecondmentCell:
    """Counts of one (home, host, sector, ethnicity, gender) combination."""

    home_unit: str
    host_unit: str
    sector: str
    ethnicity: str
    gender: str
    started: int
    active: int
    ended: int
    completed: int
    terminated_early: int
    overdue: int
    promoted: int


@dataclass(frozen=True)
class RepeatedOfficial:
    """One secondment of an official who has several in the selection."""

    official_id: str
    home_unit: str
    host_unit: str
    sector: str
    ethnicity: str
    gender: str


@dataclass(frozen=True)
class NeedCell:
    """Counts of one (host, sector) combination of needs."""

    host_unit: str
    sector: str
    raised: int
    withdrawn: int
    filled: int
    positions_requested: int
    positions_filled: int


@dataclass(frozen=True)
class EndedCell:
    """Ended secondments with one duration, rating and post arrangement (None: none yet)."""

    duration: int
    rating: str | None
    arrangement: str | None
    count: int


# ----- assembly ----------------------------------------------------------------------------


def _needs_block(c: Mapping[str, int]) -> NeedsBlock:
    raised, withdrawn, filled = c["raised"], c["withdrawn"], c["filled"]
    return NeedsBlock(
        raised=raised,
        withdrawn=withdrawn,
        filled=filled,
        open=raised - withdrawn - filled,
        positions_requested=c["positions_requested"],
        positions_filled=c["positions_filled"],
        fill_rate=ratio(c["positions_filled"], c["positions_requested"]),
    )


def _secondments_block(c: Mapping[str, int]) -> SecondmentsBlock:
    return SecondmentsBlock(**{k: c[k] for k in SECONDMENT_COUNTS})


def duration_stats(cells: Iterable[EndedCell]) -> DurationStats:
    """Mean (2 decimals), median and maximum of a histogram of durations."""
    histogram: Counter[int] = Counter()
    for cell in cells:
        histogram[cell.duration] += cell.count
    total = sum(histogram.values())
    if not total:
        return DurationStats(mean=None, median=None, max=None)
    mean = round(sum(d * n for d, n in histogram.items()) / total, 2)
    ordered = sorted(histogram.items())

    def nth(index: int) -> int:
        seen = 0
        for value, count in ordered:
            seen += count
            if index < seen:
                return value
        raise AssertionError("index beyond the histogram")

    middle = total // 2
    median = float(nth(middle)) if total % 2 else (nth(middle - 1) + nth(middle)) / 2
    return DurationStats(mean=mean, median=median, max=ordered[-1][0])


KeyOf = Callable[[str], str]


def assemble(
    *,
    phase_id: str,
    as_of: dt.date,
    filters: Filters,
    rollup: Rollup,
    secondments: Sequence[SecondmentCell],
    repeated: Sequence[RepeatedOfficial],
    needs: Sequence[NeedCell],
    ended: Sequence[EndedCell],
    unit_key: KeyOf,
    threshold: int,
) -> Evaluation:
    """The evaluation from grouped counts; `unit_key` maps a unit code to its group (its
    roll-up unit with `rollup=successor`, else itself)."""
    keys: dict[str, KeyOf] = {
        "home_unit": unit_key,
        "host_unit": unit_key,
        "sector": lambda c: c,
        "ethnicity": lambda c: c,
        "gender": lambda c: c,
    }
    total: Counter[str] = Counter()
    groups: dict[str, dict[str, Counter[str]]] = {d: defaultdict(Counter) for d in DIMENSIONS}
    for cell in secondments:
        counts = {k: getattr(cell, k) for k in (*SECONDMENT_COUNTS[:-1], "promoted")}
        total.update(counts)
        for dim in DIMENSIONS:
            groups[dim][keys[dim](getattr(cell, dim))].update(counts)
    # Distinct officials: each official counts once per group however many secondments.
    total["officials"] = total["started"]
    per_official: dict[str, list[RepeatedOfficial]] = defaultdict(list)
    for row in repeated:
        per_official[row.official_id].append(row)
    for dim in DIMENSIONS:
        for counter in groups[dim].values():
            counter["officials"] = counter["started"]
    for rows in per_official.values():
        total["officials"] -= len(rows) - 1
        for dim in DIMENSIONS:
            seen = Counter(keys[dim](getattr(r, dim)) for r in rows)
            for key, n in seen.items():
                groups[dim][key]["officials"] -= n - 1

    need_total: Counter[str] = Counter()
    need_groups: dict[str, dict[str, Counter[str]]] = {
        "host_unit": defaultdict(Counter),
        "sector": defaultdict(Counter),
    }
    for need in needs:
        counts = {k: getattr(need, k) for k in NEED_COUNTS}
        need_total.update(counts)
        need_groups["host_unit"][unit_key(need.host_unit)].update(counts)
        need_groups["sector"][need.sector].update(counts)

    ratings = dict.fromkeys(RATINGS, 0)
    arrangements = dict.fromkeys(ARRANGEMENTS, 0)
    for e in ended:
        if e.rating is not None:
            ratings[e.rating] = ratings.get(e.rating, 0) + e.count
        if e.arrangement is not None:
            arrangements[e.arrangement] = arrangements.get(e.arrangement, 0) + e.count

    def full(counter: Mapping[str, int], names: Sequence[str]) -> dict[str, int]:
        return {k: int(counter.get(k, 0)) for k in names}

    def unit_groups(dim: str) -> dict[str, UnitGroup]:
        return {
            key: UnitGroup(
                secondments=_secondments_block(full(c, SECONDMENT_COUNTS)),
                promoted=int(c["promoted"]),
            )
            for key, c in sorted(groups[dim].items())
        }

    def host_groups(dim: str) -> dict[str, HostGroup]:
        keys_ = sorted(set(groups[dim]) | set(need_groups[dim]))
        return {
            key: HostGroup(
                needs=_needs_block(full(need_groups[dim].get(key, Counter()), NEED_COUNTS)),
                secondments=_secondments_block(
                    full(groups[dim].get(key, Counter()), SECONDMENT_COUNTS)
                ),
                promoted=int(groups[dim].get(key, Counter())["promoted"]),
            )
            for key in keys_
        }

    ethnic_cells = {
        key: full(c, (*SECONDMENT_COUNTS, "promoted"))
        for key, c in sorted(groups["ethnicity"].items())
    }
    hidden = suppress(ethnic_cells, threshold)
    by_ethnicity = {
        key: EthnicGroup(
            secondments=ProtectedSecondmentsBlock(
                **{
                    k: (None if k in hidden[key] else v)
                    for k, v in cells.items()
                    if k != "promoted"
                }
            ),
            promoted=None if "promoted" in hidden[key] else cells["promoted"],
            suppressed=sorted(_cell_name(k) for k in hidden[key]),
        )
        for key, cells in ethnic_cells.items()
    }
    ended_total = int(total["ended"])
    return Evaluation(
        phase_id=phase_id,
        as_of=as_of,
        filters=filters,
        rollup=rollup,
        needs=_needs_block(full(need_total, NEED_COUNTS)),
        secondments=_secondments_block(full(total, SECONDMENT_COUNTS)),
        duration_days=duration_stats(ended),
        ratings=ratings,
        post_arrangements=arrangements,
        promotion_rate=ratio(arrangements["PROMOTED"], ended_total),
        by_home_unit=unit_groups("home_unit"),
        by_host_unit=host_groups("host_unit"),
        by_sector=host_groups("sector"),
        by_ethnicity=by_ethnicity,
        by_gender=unit_groups("gender"),
        small_cell_threshold=threshold,
    )


def _cell_name(key: str) -> str:
    return key if key == "promoted" else f"secondments.{key}"


# ----- small-cell protection ---------------------------------------------------------------

# Within a group, a total and its parts: hiding exactly one of them would be undone by
# subtraction.
GROUP_EQUATIONS: tuple[tuple[str, ...], ...] = (
    ("started", "active", "ended"),
    ("ended", "completed", "terminated_early"),
)
PROTECTED = (*SECONDMENT_COUNTS, "promoted")


def suppress(cells: Mapping[str, Mapping[str, int]], threshold: int) -> dict[str, set[str]]:
    """Cells to withhold, per group, so that no count from 1 to `threshold − 1` can be read
    or derived.

    Primary: every such count. Complementary, repeated until nothing changes:
    - within a group, an equation (started = active + ended; ended = completed +
      terminated_early) never has exactly one hidden cell;
    - across groups, a measure (whose total the evaluation shows) is never hidden in exactly
      one group.
    The complement chosen is the smallest visible non-zero cell (else the smallest visible one),
    ties broken by name, so the answer is deterministic.
    """
    hidden: dict[str, set[str]] = {g: set() for g in cells}
    if threshold <= 1:
        return hidden
    for group, values in cells.items():
        for name in PROTECTED:
            if 0 < values[name] < threshold:
                hidden[group].add(name)

    def pick(candidates: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
        visible = [(cells[g][m], g, m) for g, m in candidates if m not in hidden[g]]
        if not visible:
            return None
        nonzero = [c for c in visible if c[0] > 0]
        _, g, m = min(nonzero or visible)
        return g, m

    changed = True
    while changed:
        changed = False
        for group in cells:
            for equation in GROUP_EQUATIONS:
                if sum(1 for m in equation if m in hidden[group]) == 1:
                    chosen = pick((group, m) for m in equation)
                    if chosen:
                        hidden[chosen[0]].add(chosen[1])
                        changed = True
        for measure in PROTECTED:
            holders = [g for g in cells if measure in hidden[g]]
            if len(holders) == 1:
                chosen = pick((g, measure) for g in cells if g != holders[0])
                if chosen:
                    hidden[chosen[0]].add(chosen[1])
                    changed = True
    return hidden
