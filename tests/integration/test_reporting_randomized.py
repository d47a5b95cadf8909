"""Every figure of the evaluation, over the real broker, against an independent computation.

More than 10,000 random lifecycle events (amendments, withdrawals, fills and reopenings,
extensions, early ends, post arrangements, cancellations, later promotions, and the
localities' plans with their amendments) go to the prefixed topics with
aiokafka, with duplicates re-sent later and the topics interleaved so that many secondments
(and their endings) land before their needs. The reporting service (batch consumption into
PostgreSQL) must then answer exactly what tests/bench/oracle.py computes from the generated
events, for several `as_of` dates, filters and the successor roll-up.
"""

import datetime as dt
import json
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from services.reporting.adapters.tables import core
from shared.contract.events import EVENT_TYPES
from shared.contract.topics import NEEDS_TOPIC, PLACEMENTS_TOPIC, topic_name
from shared.infra.db import make_engine, make_sessions
from shared.infra.kafka_topics import ensure_topics
from shared.phases import DEFAULT_PHASES
from tests import auth
from tests.bench.generator import delivery_order, generate
from tests.bench.oracle import World
from tests.integration.system import eventually, new_deployment, reporting_app, running

pytestmark = pytest.mark.integration

P1, P2 = DEFAULT_PHASES
CASES: list[tuple[Any, dt.date, dict[str, str]]] = [
    (P1, dt.date(2023, 12, 31), {}),
    (P1, dt.date(2024, 5, 15), {}),
    (P1, dt.date(2025, 3, 1), {}),
    (P1, dt.date(2025, 12, 31), {}),
    (P1, dt.date(2026, 6, 30), {"host_unit": "SO_Y_TE"}),
    (P1, dt.date(2025, 12, 31), {"home_unit": "NAM_GIANG", "sector": "HEALTH"}),
    (P1, dt.date(2025, 12, 31), {"rollup": "successor"}),
    (P1, dt.date(2025, 12, 31), {"rollup": "successor", "host_unit": "DN_SO_TAI_CHINH"}),
    (P2, dt.date(2026, 4, 1), {}),
    (P2, dt.date(2027, 12, 31), {"sector": "EDUCATION"}),
    (P2, dt.date(2027, 12, 31), {"rollup": "successor", "home_unit": "KV_NAM_GIANG"}),
]


async def test_every_figure_matches_an_independent_computation_after_random_delivery(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    generated = generate(2026, needs=1400)
    assert len(generated) >= 10_000
    messages = delivery_order(generated, 4)
    kinds = {json.loads(m)["type"] for _, _, m in generated.messages}
    assert kinds == set(EVENT_TYPES), kinds  # every event type
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    await ensure_topics(
        kafka_bootstrap, [topic_name(t, d.prefix) for t in (NEEDS_TOPIC, PLACEMENTS_TOPIC)]
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()

    async def publish(batch: list[tuple[str, str, bytes]]) -> None:
        futures = [
            await producer.send(topic_name(t, d.prefix), value=m, key=k.encode())
            for t, k, m in batch
        ]
        for f in futures:
            await f

    engine = make_engine(d.reporting_db)
    sessions = make_sessions(engine)

    async def processed() -> int:
        async with sessions() as s:
            t = core.processed
            return int(await s.scalar(select(func.count()).select_from(t)) or 0)

    distinct = len({json.loads(m)["id"] for _, _, m in messages})
    placements_first = next(i for i, m in enumerate(messages) if m[0] == NEEDS_TOPIC)
    try:
        async with running(reporting_app(d)) as reporting:
            # Secondments (some ended, extended, arranged) land before any need exists.
            await publish(messages[:placements_first])
            first_ids = {json.loads(m)["id"] for _, _, m in messages[:placements_first]}
            await eventually(processed, lambda n: n == len(first_ids), within=60)
            await publish(messages[placements_first:])
            await eventually(processed, lambda n: n == distinct, within=120)
            world = World(m for _, _, m in generated.messages)
            suppressed = False
            for phase, as_of, params in CASES:
                query = {"as_of": as_of.isoformat(), **params}
                response = await reporting.get(
                    f"/api/reports/phases/{phase.phase_id}/evaluation",
                    params=query,
                    headers=auth.reader(),
                )
                assert response.status_code == 200, response.text
                expected = world.evaluate(
                    phase,
                    as_of,
                    home_unit=params.get("home_unit"),
                    host_unit=params.get("host_unit"),
                    sector=params.get("sector"),
                    rollup=params.get("rollup", "none"),
                )
                assert response.json() == expected, (phase.phase_id, query)
                suppressed |= any(g["suppressed"] for g in expected["by_ethnicity"].values())
            # The figures are not trivially zero.
            full = world.evaluate(P1, dt.date(2025, 12, 31))
            assert full["secondments"]["started"] > 1000
            assert full["secondments"]["overdue"] > 0
            assert full["needs"]["withdrawn"] > 0
            assert full["promoted_after_return"] > 0
            # Plans went through the PostgreSQL live projection: some localities are behind
            # their pace and some are not, an amendment is in force somewhere.
            behind = {u: p["behind_plan"] for u, p in full["plans"]["localities"].items()}
            assert set(behind.values()) == {True, False}, behind
            decisions = [d for p in full["plans"]["localities"].values() for d in p["decisions"]]
            assert any(d != "11/QĐ-UBND" for d in decisions), decisions
            assert suppressed  # small cells were withheld in at least one case
    finally:
        await producer.stop()
        await engine.dispose()
