"""The phase evaluation leadership reads: definitions, the shape of the answer, and the pure
arithmetic that turns the counts of `domain/columnar/tally.py` into it (durations, rates,
small-cell protection). No I/O here.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.reporting.domain.columnar.tally import Tally
from services.reporting.domain.plans import PlanProgress
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
    plans: PlanProgress | None = Field(
        default=None,
        description="the locality plans in force against the secondments started, per "
        "locality and for the province, by year (docs/reporting.md, Plans)",
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
    return SecondmentsBlock(**{k: c.get(k, 0) for k in SECONDMENT_COUNTS})


def duration_stats(histogram: Mapping[int, int]) -> DurationStats:
    """Mean (2 decimals), median and maximum of a histogram of durations."""
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


EMPTY_NEEDS: Mapping[str, int] = dict.fromkeys(NEED_COUNTS, 0)
EMPTY_SECONDMENTS: Mapping[str, int] = dict.fromkeys((*SECONDMENT_COUNTS, "promoted"), 0)


def assemble(
    *,
    phase_id: str,
    as_of: dt.date,
    filters: Filters,
    rollup: Rollup,
    tally: Tally,
    threshold: int,
) -> Evaluation:
    """The evaluation from the counts of `domain/columnar/tally.py` (groups already rolled up)."""
    groups, need_groups = tally.groups, tally.need_groups

    def unit_groups(dim: str) -> dict[str, UnitGroup]:
        return {
            key: UnitGroup(secondments=_secondments_block(c), promoted=c["promoted"])
            for key, c in sorted(groups[dim].items())
        }

    def host_groups(dim: str) -> dict[str, HostGroup]:
        out = {}
        for key in sorted(set(groups[dim]) | set(need_groups[dim])):
            counts = groups[dim].get(key, EMPTY_SECONDMENTS)
            out[key] = HostGroup(
                needs=_needs_block(need_groups[dim].get(key, EMPTY_NEEDS)),
                secondments=_secondments_block(counts),
                promoted=counts["promoted"],
            )
        return out

    ethnic_cells = {
        key: {k: c[k] for k in PROTECTED} for key, c in sorted(groups["ethnicity"].items())
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
    ratings = dict.fromkeys(RATINGS, 0) | tally.ratings
    arrangements = dict.fromkeys(ARRANGEMENTS, 0) | tally.arrangements
    return Evaluation(
        phase_id=phase_id,
        as_of=as_of,
        filters=filters,
        rollup=rollup,
        needs=_needs_block(tally.needs),
        secondments=_secondments_block(tally.secondments),
        duration_days=duration_stats(tally.durations),
        ratings=ratings,
        post_arrangements=arrangements,
        promotion_rate=ratio(arrangements["PROMOTED"], tally.secondments["ended"]),
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
