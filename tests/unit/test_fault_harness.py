"""The fault harness's own logic (tests/faults): a schedule that replays from its seed and
covers every fault kind, and the independent figures it holds reporting to. A harness that
could not see a loss would prove nothing, so these check it does."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.run import Options, Result
from tests.faults.schedule import KINDS, draw
from tests.faults.workload import Ledger, NeedRecord, SecondmentRecord, compare, expected


def test_the_same_seed_draws_the_same_schedule_and_another_seed_another() -> None:
    assert draw(7, 180, replicas=2, brokers=3) == draw(7, 180, replicas=2, brokers=3)
    assert draw(7, 180, replicas=2, brokers=3) != draw(8, 180, replicas=2, brokers=3)


@pytest.mark.parametrize("seed", range(1, 40))
def test_a_short_run_meets_every_fault_kind_and_mode(seed: int) -> None:
    """The CI stage runs 180 s: each kind, both PostgreSQL shutdowns, both poisons appear."""
    faults = draw(seed, 180, replicas=2, brokers=3)
    assert {f.kind for f in faults} == set(KINDS)
    modes = {(f.kind, f.mode) for f in faults}
    assert {("postgres_restart", "fast"), ("postgres_restart", "immediate")} <= modes
    assert {("poison", "garbage"), ("poison", "unknown-type")} <= modes
    times = [f.at for f in faults]
    assert times == sorted(times)
    assert times[0] == 8.0
    assert times[-1] < 175
    assert all(5.9 <= b - a <= 14.1 for a, b in itertools.pairwise(times))


def test_targets_exist_in_the_deployment_drawn_for() -> None:
    single = draw(3, 600, replicas=1, brokers=1)
    for f in single:
        if f.kind == "process_kill":
            assert f.target.endswith("-1")
        if f.kind == "broker_kill":
            assert f.target == "node-1"
    triple = {f.target for f in draw(3, 3000, replicas=2, brokers=3) if f.kind == "broker_kill"}
    assert triple == {"node-1", "node-2", "node-3"}


def _ledger() -> Ledger:
    ledger = Ledger()
    ledger.needs = {
        "n1": NeedRecord("n1", "SO_Y_TE", positions=2),
        "n2": NeedRecord("n2", "SO_TAI_CHINH", positions=3),
        "n3": NeedRecord("n3", "SO_TAI_CHINH", positions=1, withdrawn=True),
    }
    ledger.secondments = {
        "s1": SecondmentRecord("s1", "n1", "NAM_GIANG", "o1", received=True),
        "s2": SecondmentRecord(
            "s2", "n1", "TAY_GIANG", "o2", ended=("COMPLETED", "GOOD"), arrangement="PROMOTED"
        ),
        "s3": SecondmentRecord("s3", "n2", "TAY_GIANG", "o3", ended=("HEALTH", "COMPLETED")),
        "s4": SecondmentRecord("s4", "n2", "NAM_GIANG", "o4", cancelled=True),
        "s5": SecondmentRecord("s5", "n2", "NAM_GIANG", "o1", ended=("COMPLETED", "GOOD")),
    }
    return ledger


def test_the_expected_figures_follow_from_the_ledger_alone() -> None:
    figures = expected(_ledger())
    assert figures["needs"] == {
        "raised": 3,
        "withdrawn": 1,
        "filled": 1,  # n1 has its 2; n2 has 2 of 3 (s4 was cancelled)
        "open": 1,
        "positions_requested": 6,
        "positions_filled": 4,
    }
    assert figures["secondments"] == {
        "started": 4,
        "active": 1,
        "ended": 3,
        "completed": 2,
        "terminated_early": 1,
        "overdue": 1,
        "officials": 3,
    }
    assert figures["ratings"] == {"GOOD": 2, "COMPLETED": 1}
    assert figures["post_arrangements"] == {"PROMOTED": 1}


def test_comparison_names_every_figure_that_differs_and_ignores_zero_buckets() -> None:
    figures = expected(_ledger())
    same = {**figures, "ratings": {**figures["ratings"], "EXCELLENT": 0}}
    assert compare(figures, same) == []
    counted_twice = {
        **figures,
        "secondments": {**figures["secondments"], "started": 5},
        "ratings": {"GOOD": 3, "COMPLETED": 1},
    }
    assert compare(figures, counted_twice) == [
        "secondments.started: 4 → 5",
        "ratings: {'GOOD': 2, 'COMPLETED': 1} → {'GOOD': 3, 'COMPLETED': 1}",
    ]
    assert compare(figures, {}) != []


def test_the_summary_line_is_the_one_operators_grep_for(tmp_path: Path) -> None:
    options = Options(
        seed=1,
        duration=10,
        brokers=3,
        replicas=2,
        workers=1,
        kafka_port=39092,
        pg_port=55442,
        converge_within=60,
        logs=tmp_path,
    )
    result = Result(options, faults=Counter(process_kill=3, broker_kill=2, rebalance=1))
    result.accepted, result.converged_in = 120, 4.25
    assert result.summary() == (
        "faults: 3 process kills, 2 broker kills, 0 postgres restarts, 1 rebalances; "
        "accepted 120; lost 0; duplicated 0; converged in 4.2 s"
    )
    assert result.ok
    result.lost = 1
    assert not result.ok
    assert "lost 1;" in result.summary()
    result.lost, result.converged_in = 0, None
    assert not result.ok
    assert result.summary().endswith("converged in never")
