"""The read models and evaluation queries on SQLite (the embedded default), checked against
the independent computation of tests/bench/oracle.py on a small random stream."""

import datetime as dt

from services.reporting.adapters.queries import alerts, evaluate, monthly
from services.reporting.bootstrap import ReportingService
from services.reporting.domain.evaluation import Filters
from services.reporting.service_layer.projections import project, project_batch
from shared.contract.envelope import CloudEvent
from shared.phases import DEFAULT_PHASES
from tests.bench.generator import delivery_order, generate
from tests.bench.oracle import World

CASES = [
    (DEFAULT_PHASES[0], dt.date(2024, 6, 30), {}),
    (DEFAULT_PHASES[0], dt.date(2025, 12, 31), {}),
    (DEFAULT_PHASES[0], dt.date(2026, 3, 1), {"host_unit": "SO_Y_TE"}),
    (DEFAULT_PHASES[1], dt.date(2026, 9, 30), {"sector": "HEALTH"}),
    (DEFAULT_PHASES[1], dt.date(2027, 12, 31), {"home_unit": "KV_NAM_GIANG", "rollup": "x"}),
    (DEFAULT_PHASES[0], dt.date(2025, 12, 31), {"rollup": "successor"}),
]


async def test_every_figure_matches_the_independent_computation_on_sqlite(
    service: ReportingService,
) -> None:
    generated = generate(7, needs=250)
    messages = [m for _, _, m in delivery_order(generated, 8)]
    envelopes = [CloudEvent.from_json(m) for m in messages]
    for start in range(0, len(envelopes), 97):
        await project_batch(envelopes[start : start + 97], service.ports.uow())
    world = World(messages)
    for phase, as_of, extra in CASES:
        extra = dict(extra)
        rollup = "successor" if extra.pop("rollup", None) else "none"
        filters = Filters(**extra)
        async with service.sessions() as session:
            got = await evaluate(session, phase, as_of, filters, rollup=rollup)  # type: ignore[arg-type]
        expected = world.evaluate(
            phase,
            as_of,
            rollup=rollup,
            home_unit=extra.get("home_unit"),
            host_unit=extra.get("host_unit"),
            sector=extra.get("sector"),
        )
        assert got.model_dump(mode="json") == expected, (phase.phase_id, as_of, extra)


async def test_alerts_and_timeline_match_the_independent_computation_on_sqlite(
    service: ReportingService,
) -> None:
    generated = generate(9, needs=300)
    messages = [m for _, _, m in delivery_order(generated, 4)]
    envelopes = [CloudEvent.from_json(m) for m in messages]
    for start in range(0, len(envelopes), 101):
        await project_batch(envelopes[start : start + 101], service.ports.uow())
    world = World(messages)
    # a day exactly 30 days before a secondment's planned end: the window's inclusive edge
    edge, probe = next(
        (s["base"]["planned_end_date"] - dt.timedelta(days=30), sid)
        for sid, s in world.secondments.items()
        if "base" in s
        and not s["cancelled"]
        and s["ended"] is None
        and not s["extensions"]
        and s["base"]["start_date"] <= s["base"]["planned_end_date"] - dt.timedelta(days=30)
    )
    assert probe in world.alerts(edge)["ending_soon"]
    for as_of in (dt.date(2024, 9, 30), dt.date(2025, 6, 30), dt.date(2026, 2, 1), edge):
        expected = world.alerts(as_of)
        assert sum(len(v) for v in expected.values()) > 0, as_of
        async with service.sessions() as session:
            got = await alerts(
                session,
                as_of,
                ending_within=30,
                open_longer_than=60,
                limit=40,
                cache=service.snapshots,
            )
        assert got.counts == {k: len(v) for k, v in expected.items()}, as_of
        assert [r["secondment_id"] for r in got.ending_soon] == expected["ending_soon"][:40]
        assert [r["secondment_id"] for r in got.overdue] == expected["overdue"][:40]
        assert [r["need_id"] for r in got.open_needs] == expected["needs_open_long"][:40]
        assert [r["secondment_id"] for r in got.unarranged] == expected[
            "ended_without_arrangement"
        ][:40]
    for phase, as_of in (
        (DEFAULT_PHASES[0], dt.date(2025, 3, 15)),
        (DEFAULT_PHASES[1], dt.date(2026, 8, 1)),
    ):
        async with service.sessions() as session:
            got_months = await monthly(session, phase, as_of, Filters(), cache=service.snapshots)
        assert got_months == world.timeline(phase, as_of)
        assert sum(started for _, started, _ in got_months) > 0


async def test_a_redelivered_event_changes_nothing(service: ReportingService) -> None:
    generated = generate(3, needs=5)
    first = CloudEvent.from_json(generated.messages[0][2])
    assert await project(first, service.ports.uow())
    assert not await project(first, service.ports.uow())
