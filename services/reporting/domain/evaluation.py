"""The phase evaluation leadership reads: definitions, the shape of the answer, and the pure
arithmetic that turns the counts of `domain/columnar/tally.py` into it (durations, rates,
small-cell protection). No I/O here.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.reporting.domain.columnar.tally import Tally
from services.reporting.domain.counts import (
    ARRANGEMENTS,
    NEED_COUNTS,
    RATINGS,
    SECONDMENT_COUNTS,
)
from services.reporting.domain.plans import PlanProgress
from services.reporting.domain.suppression import PROTECTED, suppress
from shared.phases import Phase

Rollup = Literal["none", "successor"]


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
    received: int = Field(default=0, description="the host recorded the reception by as_of")
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
    received: int | None = None
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


class Outcomes(BaseModel):
    """What became of a group's ended secondments (`by_home_unit`, `by_host_unit`,
    `by_sector`): shown in full, like the group's other counts (only `by_ethnicity` is
    small-cell protected)."""

    ratings: dict[str, int]
    end_reasons: dict[str, int] = Field(description="COMPLETED, TERMINATED_EARLY")
    post_arrangements: dict[str, int]
    promoted_after_return: int
    promotion_rate: float | None = Field(description="promoted / ended; null when none ended")


class UnitGroup(BaseModel):
    """One group of a breakdown; `outcomes` in `by_home_unit` (null in `by_gender`)."""

    secondments: SecondmentsBlock
    promoted: int
    outcomes: Outcomes | None = None


class HostGroup(BaseModel):
    """One group of `by_host_unit` or `by_sector`: needs and outcomes too."""

    needs: NeedsBlock
    secondments: SecondmentsBlock
    promoted: int
    outcomes: Outcomes | None = None


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
    post_arrangements_by_destination: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="where the officials went: destination unit (under the roll-up) → post "
        "arrangement → ended secondments whose arrangement in effect names that unit; "
        "arrangements recorded without a destination are only in `post_arrangements`",
    )
    promoted: int = Field(
        default=0,
        description="ended secondments promoted by as_of: at the post arrangement, or later",
    )
    promoted_after_return: int = Field(
        default=0,
        description="of them, promoted by a later promotion (not at the post arrangement)",
    )
    promotion_rate: float | None = Field(description="promoted / ended; null when none ended")
    promotion_delay_days: DurationStats = Field(
        default=DurationStats(mean=None, median=None, max=None),
        description="days from the end to the first promotion, of the promoted",
    )
    time_to_fill_days: DurationStats = Field(
        default=DurationStats(mean=None, median=None, max=None),
        description="days from raised_on (as amended) to the fill in effect, of filled needs; "
        "median = p50",
    )
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
EMPTY_SECONDMENTS: Mapping[str, int] = dict.fromkeys(
    (*SECONDMENT_COUNTS, "promoted", "promoted_after_return"), 0
)
END_REASONS = ("COMPLETED", "TERMINATED_EARLY")


def outcomes(counts: Mapping[str, int], codes: Mapping[str, Mapping[str, int]]) -> Outcomes:
    """A group's outcomes from its counts and its ratings and arrangements per code."""
    return Outcomes(
        ratings=dict.fromkeys(RATINGS, 0) | dict(codes.get("ratings", {})),
        end_reasons={
            "COMPLETED": counts["completed"],
            "TERMINATED_EARLY": counts["terminated_early"],
        },
        post_arrangements=dict.fromkeys(ARRANGEMENTS, 0) | dict(codes.get("post_arrangements", {})),
        promoted_after_return=counts["promoted_after_return"],
        promotion_rate=ratio(counts["promoted"], counts["ended"]),
    )


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

    def home_groups() -> dict[str, UnitGroup]:
        codes = tally.outcomes["home_unit"]
        return {
            key: UnitGroup(
                secondments=_secondments_block(c),
                promoted=c["promoted"],
                outcomes=outcomes(c, codes.get(key, {})),
            )
            for key, c in sorted(groups["home_unit"].items())
        }

    def host_groups(dim: str) -> dict[str, HostGroup]:
        out = {}
        for key in sorted(set(groups[dim]) | set(need_groups[dim])):
            counts = groups[dim].get(key, EMPTY_SECONDMENTS)
            out[key] = HostGroup(
                needs=_needs_block(need_groups[dim].get(key, EMPTY_NEEDS)),
                secondments=_secondments_block(counts),
                promoted=counts["promoted"],
                outcomes=outcomes(counts, tally.outcomes[dim].get(key, {})),
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
        post_arrangements_by_destination=dict(sorted(tally.destinations.items())),
        promoted=tally.secondments["promoted"],
        promoted_after_return=tally.secondments["promoted_after_return"],
        promotion_rate=ratio(tally.secondments["promoted"], tally.secondments["ended"]),
        promotion_delay_days=duration_stats(tally.promotion_delays),
        time_to_fill_days=duration_stats(tally.fill_days),
        by_home_unit=home_groups(),
        by_host_unit=host_groups("host_unit"),
        by_sector=host_groups("sector"),
        by_ethnicity=by_ethnicity,
        by_gender=unit_groups("gender"),
        small_cell_threshold=threshold,
    )


def _cell_name(key: str) -> str:
    return key if key == "promoted" else f"secondments.{key}"
