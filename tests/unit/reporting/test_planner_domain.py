"""The next-phase planner's arithmetic (services/reporting/domain/planner.py): the proposal
adds up to the target exactly, is the same whatever the order of its inputs, respects the
bounds per locality and year, and handles a locality with no history, a target of 0 and a
locality that is not mountainous in the planned phase."""

import itertools
import random
from fractions import Fraction

import pytest

from services.reporting.domain.planner import (
    AreaHistory,
    Locality,
    Proposal,
    apportion,
    propose,
    target_from_share,
    year_weights,
)
from shared.seedwork.errors import DomainError

YEARS = range(2026, 2031)


def history(secondments: int, ended: int, promoted: int) -> AreaHistory:
    return AreaHistory(
        secondments=secondments, officials=secondments, ended=ended, promoted=promoted
    )


def localities(eligible: bool = True) -> list[Locality]:
    def loc(code: str, area: str, n: int, h: AreaHistory | None) -> Locality:
        return Locality(
            home_unit=code,
            area=area,
            mountainous=True,
            eligible_officials=n if eligible else None,
            history=h,
        )

    return [
        loc("XA_A", "KV_1", 10, history(6, 6, 3)),
        loc("XA_B", "KV_1", 20, history(6, 6, 3)),
        loc("XA_C", "KV_2", 15, history(2, 2, 0)),
        loc("XA_D", "KV_3", 5, None),
    ]


def cells(p: Proposal) -> dict[tuple[str, int], int]:
    return {(r.home_unit, c.year): c.officials for r in p.localities for c in r.years}


@pytest.mark.parametrize("target", [0, 1, 7, 23, 100, 1234])
def test_the_proposal_adds_up_to_the_target(target: int) -> None:
    p = propose(localities(), target, YEARS, 40.0)
    assert sum(cells(p).values()) == target
    assert sum(r.total for r in p.localities) == target
    assert sum(y.officials for y in p.years) == target
    assert all(r.total == sum(c.officials for c in r.years) for r in p.localities)


def test_the_same_inputs_in_any_order_give_the_same_proposal() -> None:
    first = propose(localities(), 37, YEARS, 12.5, max_per_year=4)
    for order in itertools.permutations(localities()):
        assert propose(list(order), 37, YEARS, 12.5, max_per_year=4) == first


def test_weights_follow_capacity_throughput_and_promotions() -> None:
    p = propose(localities(), 89, YEARS)
    by = {r.home_unit: r for r in p.localities}
    # KV_1 (its history shared by its two communes): 6 secondments over 30 eligible against
    # the province's 8 over 45 (KV_3 has no history); promotions 3/6 against 3/8: indices
    # 9/8 and 4/3, capacities 10 and 20.
    assert p.province_secondments_per_capacity == round(8 / 45, 4)
    assert by["XA_A"].throughput_index == 1.125
    assert by["XA_A"].promotion_index == round(4 / 3, 4)
    assert by["XA_B"].weight == pytest.approx(2 * by["XA_A"].weight, abs=1e-3)
    # KV_2: 2 over 15 against 8/45 (index 3/4), promotions 0: clamped at one half.
    assert by["XA_C"].throughput_index == 0.75
    assert by["XA_C"].promotion_index == 0.5
    # No weights lost: shares add up to 1 and the largest weight gets the most.
    assert sum(r.share for r in p.localities) == pytest.approx(1, abs=1e-3)
    assert by["XA_B"].total == max(r.total for r in p.localities)
    # No year is favoured without a time to fill: 89 = 5 × 17 + 4.
    assert sorted(y.officials for y in p.years) == [17, 18, 18, 18, 18]


def test_a_locality_with_no_history_counts_as_the_province_average() -> None:
    p = propose(localities(), 50, YEARS)
    d = next(r for r in p.localities if r.home_unit == "XA_D")
    assert d.history is None
    assert d.secondments_per_capacity is None
    assert (d.throughput_index, d.promotion_index) == (1.0, 1.0)
    assert d.weight == 5.0


def test_no_history_anywhere_spreads_by_capacity_alone() -> None:
    locs = [loc.model_copy(update={"history": None}) for loc in localities()]
    p = propose(locs, 50, YEARS)
    assert p.province_secondments_per_capacity is None
    assert {r.home_unit: r.total for r in p.localities} == {
        "XA_A": 10, "XA_B": 20, "XA_C": 15, "XA_D": 5,
    }  # fmt: skip


def test_equal_weights_spread_over_localities_and_years() -> None:
    equal = [
        Locality(home_unit=f"XA_{i:02}", area="KV", mountainous=True, history=None)
        for i in range(37)
    ]
    p = propose(equal, 30, YEARS)
    assert sorted(r.total for r in p.localities) == [0] * 7 + [1] * 30
    assert [y.officials for y in p.years] == [6, 6, 6, 6, 6]
    assert propose(list(reversed(equal)), 30, YEARS) == p


def test_a_target_of_zero_proposes_nothing() -> None:
    p = propose(localities(), 0, YEARS)
    assert all(v == 0 for v in cells(p).values())
    assert len(p.localities) == 4


def test_a_locality_not_mountainous_in_the_phase_is_left_out() -> None:
    flat = Locality(
        home_unit="QUE_SON", area="QUE_SON", mountainous=False, eligible_officials=99,
        history=history(40, 40, 40),
    )  # fmt: skip
    p = propose([*localities(), flat], 30, YEARS)
    assert [e.model_dump() for e in p.excluded] == [
        {"home_unit": "QUE_SON", "reason": "NOT_MOUNTAINOUS"}
    ]
    assert "QUE_SON" not in {r.home_unit for r in p.localities}
    assert sum(r.total for r in p.localities) == 30
    # Its history does not move the province's averages either.
    assert p.province_secondments_per_capacity == round(8 / 45, 4)


def test_unknown_eligible_officials_count_every_locality_as_one() -> None:
    p = propose(localities(eligible=False), 40, YEARS)
    assert p.capacity_basis == "equal"
    assert {r.capacity for r in p.localities} == {1}
    assert p.localities[0].area_capacity == 2  # KV_1 has two planned localities


def test_bounds_per_locality_and_year_hold_and_the_sum_still_matches() -> None:
    p = propose(localities(), 30, YEARS, min_per_year=1, max_per_year=2)
    assert set(cells(p).values()) <= {1, 2}
    assert sum(cells(p).values()) == 30
    with pytest.raises(DomainError):
        propose(localities(), 41, YEARS, max_per_year=2)  # 4 localities × 5 years × 2 = 40
    with pytest.raises(DomainError):
        propose(localities(), 19, YEARS, min_per_year=1)  # 20 at least


def test_more_eligible_officials_than_proposed_is_flagged() -> None:
    p = propose(localities(), 200, YEARS)
    assert "ABOVE_ELIGIBLE:XA_D" in p.warnings or "ABOVE_ELIGIBLE:XA_A" in p.warnings


def test_the_first_year_loses_the_time_a_need_takes_to_fill() -> None:
    assert year_weights([2026, 2027], 73.0) == {2026: Fraction(4, 5), 2027: 1}
    assert year_weights([2026, 2027], 1000.0)[2026] == Fraction(1, 2)
    assert year_weights([2026, 2027], None) == {2026: 1, 2027: 1}


def test_apportion_is_exact_bounded_and_deterministic_on_random_inputs() -> None:
    rng = random.Random(13)
    for _ in range(300):
        n = rng.randint(1, 12)
        weights = {
            (f"U{i:02}", 2026): Fraction(rng.randint(0, 50), rng.randint(1, 7)) for i in range(n)
        }
        low = rng.randint(0, 2)
        high = rng.choice([None, low + rng.randint(0, 5)])
        top = high * n if high is not None else low * n + 60
        total = rng.randint(low * n, top)
        out = apportion(total, weights, low, high)
        assert sum(out.values()) == total
        assert all(low <= v and (high is None or v <= high) for v in out.values())
        assert apportion(total, dict(reversed(list(weights.items()))), low, high) == out
        # Never more than one away from the exact quota when nothing is bounded.
        mass = sum(weights.values(), Fraction(0))
        if low == 0 and high is None and mass:
            assert all(abs(out[k] - total * w / mass) < 1 for k, w in weights.items())


def test_a_share_target_counts_those_already_seconded() -> None:
    assert target_from_share(0.3, 200, 25) == 35
    assert target_from_share(0.301, 200, 25) == 36  # rounded up: ⌈60.2⌉ − 25
    assert target_from_share(0.1, 200, 25) == 0
