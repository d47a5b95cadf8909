"""The evaluation's in-memory copy of the read models follows the projection: refreshed from
the change log batch by batch, reloaded whole after a gap in the log or a rebuild, and always
equal to a copy read afresh (and to the independent computation of tests/bench/oracle.py)."""

import asyncio
import datetime as dt
from collections.abc import Callable

from sqlalchemy import delete, update

from services.reporting.adapters.queries import evaluate
from services.reporting.adapters.snapshot import SnapshotCache
from services.reporting.adapters.tables import rm_changes, rm_needs, rm_revision
from services.reporting.bootstrap import ReportingService
from services.reporting.domain.evaluation import Evaluation, Filters
from services.reporting.service_layer.projections import project_batch
from services.reporting.service_layer.reports import phase_evaluation
from shared.contract.envelope import CloudEvent
from shared.phases import DEFAULT_PHASES
from tests.bench.generator import delivery_order, generate
from tests.bench.oracle import World

P1, P2 = DEFAULT_PHASES[0], DEFAULT_PHASES[1]
AS_OF = (dt.date(2025, 3, 31), dt.date(2025, 12, 31), dt.date(2027, 6, 30))


def _stream(seed: int, *, needs: int) -> list[CloudEvent]:
    """A generated lifecycle stream, in delivery order."""
    return [CloudEvent.from_json(m) for _, _, m in delivery_order(generate(seed, needs=needs), 1)]


async def _both(
    service: ReportingService, cache: SnapshotCache, as_of: dt.date
) -> tuple[Evaluation, Evaluation]:
    phase = P1 if as_of.year < 2026 else P2
    async with service.sessions() as session:
        cached = await evaluate(session, phase, as_of, Filters(), cache=cache)
        fresh = await evaluate(session, phase, as_of, Filters())
    return cached, fresh


async def test_the_copy_in_memory_follows_every_batch(service: ReportingService) -> None:
    generated = generate(11, needs=150)
    messages = [m for _, _, m in delivery_order(generated, 3)]
    envelopes = [CloudEvent.from_json(m) for m in messages]
    cache = SnapshotCache()
    kinds = []
    for i, start in enumerate(range(0, len(envelopes), 40)):
        await project_batch(envelopes[start : start + 40], service.ports.uow())
        if i % 4 == 0:
            cached, fresh = await _both(service, cache, AS_OF[i % 3])
            kinds.append(cache.last.kind)
            assert cached == fresh
    assert kinds[0] == "full"
    assert set(kinds[1:]) == {"changes"}, kinds
    world = World(messages)
    for as_of in AS_OF:
        cached, _ = await _both(service, cache, as_of)
        phase = P1 if as_of.year < 2026 else P2
        assert cached.model_dump(mode="json") == world.evaluate(phase, as_of, rollup="none")
    # nothing changed since: nothing read
    await _both(service, cache, AS_OF[0])
    assert cache.last.kind == "none"


async def test_a_gap_in_the_change_log_or_a_new_generation_reloads_everything(
    service: ReportingService,
) -> None:
    envelopes = _stream(5, needs=60)
    half = len(envelopes) // 2
    cache = SnapshotCache()
    await project_batch(envelopes[:half], service.ports.uow())
    await _both(service, cache, AS_OF[1])
    await project_batch(envelopes[half:-20], service.ports.uow())
    async with service.sessions() as session, session.begin():
        await session.execute(delete(rm_changes))  # as if purged: the reader fell behind
    cached, fresh = await _both(service, cache, AS_OF[1])
    assert cache.last.kind == "full"
    assert cached == fresh
    await project_batch(envelopes[-20:], service.ports.uow())
    async with service.sessions() as session, session.begin():
        await session.execute(update(rm_revision).values(generation="swapped"))
    cached, fresh = await _both(service, cache, AS_OF[1])
    assert cache.last.kind == "full"
    assert cached == fresh
    assert cached.secondments.started > 0


async def _eventually(condition: Callable[[], bool], seconds: float = 10) -> bool:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


async def test_the_running_service_keeps_its_copy_current_in_the_background(
    service: ReportingService,
) -> None:
    envelopes = _stream(13, needs=40)
    service.settings.memory_refresh_seconds = 0.05
    await service.start()
    snapshots = service.snapshots
    assert await _eventually(lambda: snapshots.last.kind == "full")  # read at start (empty)
    assert snapshots.revision == 0
    await project_batch(envelopes, service.ports.uow())
    assert await _eventually(lambda: snapshots.revision > 0)
    # Caught up without anyone asking: the evaluation finds nothing to re-read.
    evaluation = await phase_evaluation(service.ports, P1.phase_id, AS_OF[1], Filters())
    assert snapshots.last.kind == "none"
    assert evaluation.secondments.started > 0


async def test_a_revision_going_back_reloads_and_a_write_around_the_log_is_caught_aside(
    service: ReportingService,
) -> None:
    await project_batch(_stream(17, needs=60), service.ports.uow())
    cache = SnapshotCache()
    before, _ = await _both(service, cache, AS_OF[1])
    # Restored from an older backup (or migrated down and up): the revision goes back.
    async with service.sessions() as session, session.begin():
        await session.execute(update(rm_revision).values(revision=0))
    await _both(service, cache, AS_OF[1])
    assert cache.last.kind == "full"
    # A manual fix that bypassed the change log: invisible to catching up...
    async with service.sessions() as session, session.begin():
        await session.execute(update(rm_needs).values(withdrawn_on=dt.date(2024, 1, 1)))
    cached, fresh = await _both(service, cache, AS_OF[1])
    assert cache.last.kind == "none"
    assert cached.needs.withdrawn == before.needs.withdrawn != fresh.needs.withdrawn
    # ...and picked up by the reload aside (hourly in the service).
    async with service.sessions() as session:
        await cache.reload_aside(session)
    cached, fresh = await _both(service, cache, AS_OF[1])
    assert cached == fresh
    assert cached.needs.withdrawn == cached.needs.raised > 0


async def test_an_empty_filter_is_no_filter(service: ReportingService) -> None:
    await project_batch(_stream(19, needs=40), service.ports.uow())
    async with service.sessions() as session:
        unfiltered = await evaluate(session, P1, AS_OF[1], Filters())
        empty = await evaluate(session, P1, AS_OF[1], Filters(sector="", host_unit=""))
    assert empty.secondments == unfiltered.secondments
    assert empty.needs == unfiltered.needs
    assert unfiltered.secondments.started > 0


async def test_after_a_rebuild_the_running_service_reads_the_new_tables_unasked(
    service: ReportingService,
) -> None:
    await project_batch(_stream(23, needs=40), service.ports.uow())
    service.settings.memory_refresh_seconds = 0.05
    await service.start()
    snapshots = service.snapshots
    assert await _eventually(lambda: snapshots.generation == "initial")
    async with service.sessions() as session, session.begin():
        await session.execute(update(rm_revision).values(generation="rebuilt"))
    # Read again in the background, before anyone asks.
    assert await _eventually(lambda: snapshots.generation == "rebuilt")
    evaluation = await phase_evaluation(service.ports, P1.phase_id, AS_OF[1], Filters())
    assert snapshots.last.kind == "none"
    assert evaluation.secondments.started > 0
