"""The next-phase planner (issue 13 item 6): from each mountainous locality's outcomes in the
previous phase and a target set by leadership, a secondment plan per locality and year whose
whole numbers add up exactly to the target. Pure arithmetic over exact fractions, no I/O, so
the same inputs always give the same proposal (rule: docs/reporting.md, "Planner").

Weight of a locality = capacity × throughput index × promotion index (indices from its area's
previous phase, clamped to [1/2, 3/2]); weight of a year = 1, the first year less the share of
a year a need took to fill (median, at most half); each (locality, year) cell gets the target
× its weight's share, between the minimum and maximum per year, rounded by largest remainder.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from shared.contract.rules import RuleCode
from shared.seedwork.errors import DomainError

INDEX_BOUNDS: tuple[Fraction, Fraction] = (Fraction(1, 2), Fraction(3, 2))
"""How far past performance may move a locality's weight: from half to one and a half times
what its capacity alone gives it."""
K = TypeVar("K", bound=tuple[str, int])
FIRST_YEAR_FLOOR = Fraction(1, 2)
"""The first year's weight never drops below half a year, however slow needs were to fill."""


class AreaHistory(BaseModel):
    """What an area (a former district and the communes that succeeded it) did in the previous
    phase, as the evaluation counts it (roll-up to successors)."""

    secondments: int = Field(ge=0, description="secondments started")
    officials: int = Field(ge=0, description="distinct officials seconded")
    ended: int = Field(ge=0)
    promoted: int = Field(ge=0, description="ended secondments promoted (later ones included)")


class Locality(BaseModel):
    """A candidate locality of the planned phase."""

    home_unit: str
    area: str = Field(description="the roll-up unit whose previous phase it inherits")
    mountainous: bool = Field(description="a mountainous locality during the planned phase")
    eligible_officials: int | None = Field(
        default=None, ge=0, description="eligible officials (user input; null: not known)"
    )
    history: AreaHistory | None = Field(
        default=None,
        description="its area's (the same for every locality of the area); null: the area "
        "was no mountainous locality in the previous phase",
    )


class PlanCell(BaseModel):
    """Officials proposed for one locality in one year."""

    year: int
    officials: int


class LocalityProposal(BaseModel):
    """One locality's proposal with every figure its weight came from."""

    home_unit: str
    area: str
    eligible_officials: int | None
    capacity: int = Field(description="eligible officials, or 1 each when not all are known")
    area_capacity: int = Field(description="the capacity of the area's planned localities")
    history: AreaHistory | None
    secondments_per_capacity: float | None = Field(
        description="the area's secondments ÷ area_capacity (null: no history)"
    )
    promotion_rate: float | None = Field(description="promoted ÷ ended (null: none ended)")
    throughput_index: float = Field(description="per capacity against the province, clamped")
    promotion_index: float = Field(description="promotion rate against the province, clamped")
    weight: float = Field(description="capacity × throughput_index × promotion_index")
    share: float = Field(description="weight ÷ the sum of weights")
    years: list[PlanCell]
    total: int


class YearWeight(BaseModel):
    """A year of the planned phase, its weight and the officials proposed in it."""

    year: int
    weight: float
    officials: int


class Excluded(BaseModel):
    """A locality left out of the proposal, and why."""

    home_unit: str
    reason: Literal["NOT_MOUNTAINOUS"]


class Proposal(BaseModel):
    """The plan proposed: per locality and year, the sums, and the inputs behind them."""

    target: int
    capacity_basis: Literal["eligible_officials", "equal"] = Field(
        description="`equal`: some locality's eligible officials are not known, so every "
        "locality counts as one unit of capacity"
    )
    min_per_year: int
    max_per_year: int | None
    index_bounds: tuple[float, float]
    province_secondments_per_capacity: float | None
    province_promotion_rate: float | None
    time_to_fill_days: float | None = Field(description="previous phase, median; null: none")
    years: list[YearWeight]
    localities: list[LocalityProposal]
    excluded: list[Excluded]
    warnings: list[str] = Field(description="codes of what to check, e.g. `ABOVE_ELIGIBLE:XA_…`")


def _clamp(x: Fraction) -> Fraction:
    low, high = INDEX_BOUNDS
    return min(max(x, low), high)


def _ratio(a: int, b: int) -> Fraction | None:
    return Fraction(a, b) if b else None


def _float(x: Fraction | None) -> float | None:
    return None if x is None else round(float(x), 4)


def apportion(
    total: int,
    weights: Mapping[K, Fraction],
    low: int = 0,
    high: int | None = None,
    tie: Callable[[K], tuple[int, ...]] | None = None,
) -> dict[K, int]:
    """Whole numbers, each in [low, high], adding up to `total`, in proportion to `weights`
    above `low` (largest-remainder rounding after capping at `high`; all weights zero count
    equal). Ties go to the larger weight, then by `tie` (default: the smaller key), so the
    answer is determined."""
    keys = sorted(weights)
    rank = {k: (i,) for i, k in enumerate(keys)} if tie is None else {k: tie(k) for k in keys}
    n = len(keys)
    if total < low * n or (high is not None and total > high * n) or (total and not n):
        bounds = f"{low * n}–{'∞' if high is None else high * n}"
        raise DomainError(
            RuleCode.INVALID_REQUEST,
            f"a target of {total} cannot be spread over {n} locality-years with "
            f"{low}–{'∞' if high is None else high} each ({bounds} in all)",
            target=total,
        )
    if n == 0:
        return {}
    w = dict(weights) if sum(weights.values()) > 0 else {k: Fraction(1) for k in keys}
    capped: set[K] = set()
    while True:
        free = [k for k in keys if k not in capped]
        pool = total - (high or 0) * len(capped) - low * len(free)
        mass = sum((w[k] for k in free), Fraction(0))
        quota = {k: low + (pool * w[k] / mass if mass else Fraction(pool, len(free))) for k in free}
        over = [k for k in free if high is not None and quota[k] > high]
        if not over:
            break
        capped.update(over)
    out = {k: math.floor(q) for k, q in quota.items()} | {k: high or 0 for k in capped}
    left = total - sum(out.values())
    order = sorted(free, key=lambda k: (-(quota[k] - math.floor(quota[k])), -w[k], rank[k]))
    for k in order[:left]:
        out[k] += 1
    return out


def year_weights(years: Sequence[int], time_to_fill_days: float | None) -> dict[int, Fraction]:
    """1 per year; the first year loses the share of a year a need took to fill (the first
    needs of the phase are filled that much later), down to `FIRST_YEAR_FLOOR`."""
    out = {y: Fraction(1) for y in years}
    if years and time_to_fill_days:
        lost = Fraction(str(time_to_fill_days)) / 365
        out[years[0]] = max(1 - lost, FIRST_YEAR_FLOOR)
    return out


def target_from_share(share: float, eligible_total: int, experienced: int) -> int:
    """Officials still to second so that `share` of the eligible officials have served in a
    department by the phase's end: ⌈share × eligible⌉ − those seconded in the last phase."""
    return max(0, math.ceil(Fraction(str(share)) * eligible_total) - experienced)


def propose(
    localities: Sequence[Locality],
    target: int,
    years: Sequence[int],
    time_to_fill_days: float | None = None,
    *,
    min_per_year: int = 0,
    max_per_year: int | None = None,
) -> Proposal:
    """The proposal for the planned phase's `years` (module docstring; docs/reporting.md)."""
    planned = sorted((loc for loc in localities if loc.mountainous), key=lambda x: x.home_unit)
    excluded = [
        Excluded(home_unit=loc.home_unit, reason="NOT_MOUNTAINOUS")
        for loc in sorted(localities, key=lambda x: x.home_unit)
        if not loc.mountainous
    ]
    known = all(loc.eligible_officials is not None for loc in planned)
    capacity = {loc.home_unit: (loc.eligible_officials or 0) if known else 1 for loc in planned}
    areas: dict[str, list[Locality]] = {}
    for loc in planned:
        areas.setdefault(loc.area, []).append(loc)
    area_capacity = {a: sum(capacity[x.home_unit] for x in locs) for a, locs in areas.items()}
    history = {a: locs[0].history for a, locs in areas.items()}
    with_history = [a for a, h in history.items() if h is not None]
    province_rate = _ratio(
        sum(h.secondments for a in with_history if (h := history[a])),
        sum(area_capacity[a] for a in with_history),
    )
    province_promotion = _ratio(
        sum(h.promoted for a in with_history if (h := history[a])),
        sum(h.ended for a in with_history if (h := history[a])),
    )

    def indices(area: str) -> tuple[Fraction | None, Fraction | None, Fraction, Fraction]:
        h = history[area]
        if h is None:
            return None, None, Fraction(1), Fraction(1)
        rate = _ratio(h.secondments, area_capacity[area])
        promo = _ratio(h.promoted, h.ended)
        throughput = _clamp(rate / province_rate) if rate is not None and province_rate else 1
        promotion = (
            _clamp(promo / province_promotion) if promo is not None and province_promotion else 1
        )
        return rate, promo, Fraction(throughput), Fraction(promotion)

    by_area = {a: indices(a) for a in areas}
    weight = {
        loc.home_unit: capacity[loc.home_unit] * by_area[loc.area][2] * by_area[loc.area][3]
        for loc in planned
    }
    year_weight = year_weights(years, time_to_fill_days)
    row = {u: i for i, u in enumerate(weight)}
    column = {y: j for j, y in enumerate(years)}

    def diagonal(cell: tuple[str, int]) -> tuple[int, ...]:
        # Equal remainders (equal weights) are served one locality after another, each in
        # the next year: no locality gets a second official before every tied one has one,
        # and the years stay level.
        i, j = row[cell[0]], column[cell[1]]
        return ((j - i) % max(len(column), 1), i)

    cells = apportion(
        target,
        {(u, y): weight[u] * year_weight[y] for u in weight for y in years},
        min_per_year,
        max_per_year,
        tie=diagonal,
    )
    mass = sum(weight.values(), Fraction(0))
    rows: list[LocalityProposal] = []
    warnings: list[str] = []
    for loc in planned:
        rate, promo, throughput, promotion = by_area[loc.area]
        cells_of = [PlanCell(year=y, officials=cells[(loc.home_unit, y)]) for y in years]
        total = sum(c.officials for c in cells_of)
        if loc.eligible_officials is not None and total > loc.eligible_officials:
            warnings.append(f"ABOVE_ELIGIBLE:{loc.home_unit}")
        rows.append(
            LocalityProposal(
                home_unit=loc.home_unit,
                area=loc.area,
                eligible_officials=loc.eligible_officials,
                capacity=capacity[loc.home_unit],
                area_capacity=area_capacity[loc.area],
                history=loc.history,
                secondments_per_capacity=_float(rate),
                promotion_rate=_float(promo),
                throughput_index=round(float(throughput), 4),
                promotion_index=round(float(promotion), 4),
                weight=round(float(weight[loc.home_unit]), 4),
                share=round(float(weight[loc.home_unit] / mass), 4) if mass else 0.0,
                years=cells_of,
                total=total,
            )
        )
    return Proposal(
        target=target,
        capacity_basis="eligible_officials" if known else "equal",
        min_per_year=min_per_year,
        max_per_year=max_per_year,
        index_bounds=(float(INDEX_BOUNDS[0]), float(INDEX_BOUNDS[1])),
        province_secondments_per_capacity=_float(province_rate),
        province_promotion_rate=_float(province_promotion),
        time_to_fill_days=time_to_fill_days,
        years=[
            YearWeight(
                year=y,
                weight=round(float(year_weight[y]), 4),
                officials=sum(cells[(u, y)] for u in weight),
            )
            for y in years
        ],
        localities=rows,
        excluded=excluded,
        warnings=warnings,
    )
