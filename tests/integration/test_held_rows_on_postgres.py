"""On PostgreSQL a command's inserts are held back and go in one statement with the commit's
notification (`shared.infra.fast_insert`): what a command does must not change with it. Its
rows all commit, a read in the command sees what it wrote, a lost race on a stream is still a
CONCURRENT_UPDATE (not a database error), and nothing of the loser is left behind. The answer
remembered under an `Idempotency-Key` goes in that statement too, and a retry is still answered
from it."""

import asyncio
import contextlib
import copy
import datetime as dt
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.needs.adapters.tables import core, needs_view
from services.needs.adapters.unit_of_work import SqlNeedsUnitOfWork
from services.needs.bootstrap import NeedsService
from services.needs.domain.commands import RaiseNeed
from services.needs.domain.need import Need
from shared.infra.answers import Answer, AnswerExists
from shared.infra.fast_insert import Inserts
from shared.seedwork.errors import ConcurrencyConflict
from shared.seedwork.ports import RequestContext
from tests import auth
from tests.integration.system import (
    needs_app,
    needs_service,
    new_deployment,
    running,
)
from tests.samples import need_body
from tests.statements import statements_sent

pytestmark = pytest.mark.integration

CTX = RequestContext("test", "c", "c", dt.datetime.now(dt.UTC))


@pytest.fixture
async def service(pg_dsn: str) -> AsyncIterator[NeedsService]:
    async with needs_service(pg_dsn) as running:
        yield running


def sent(service: NeedsService) -> contextlib.AbstractContextManager[list[str]]:
    """The statements the service's engine sends meanwhile."""
    return statements_sent(service.runtime.engine)


def _verbs(statements: list[str]) -> list[str]:
    return [s.split()[0] for s in statements]


def _need() -> Need:
    return Need.raise_need(RaiseNeed.model_validate(need_body(positions=1)), dt.date(2024, 8, 1))


async def test_a_commands_rows_go_in_one_statement_and_all_commit(service: NeedsService) -> None:
    need = _need()
    with sent(service) as statements:
        async with service.ports.uow() as uow:
            await uow.needs.save(need, CTX)
            await uow.write_view(need, {"need_id": need.stream_id})
            await uow.commit()
    written = [s for s in statements if "INSERT" in s]
    assert len(written) == 1, statements
    assert all(t in written[0] for t in ("event_store", "outbox", "needs_view", "pg_notify"))

    async with service.ports.uow() as check:
        assert [e.type for e in await check.needs.history(need.stream_id)] == ["NeedRaised"]
    async with service.runtime.sessions() as session:
        views = await session.scalar(
            select(func.count()).where(needs_view.c.need_id == need.stream_id)
        )
    assert views == 1


async def test_a_read_in_the_command_sees_the_rows_it_holds(service: NeedsService) -> None:
    need = _need()
    async with service.ports.uow() as uow:
        await uow.needs.save(need, CTX)
        loaded = await uow.needs.get(need.stream_id)
        assert loaded is not None
        assert loaded.version == 1
        await uow.commit()


async def test_a_lost_race_is_a_concurrent_update_and_leaves_nothing(
    service: NeedsService,
) -> None:
    need = _need()
    async with service.ports.uow() as first:
        await first.needs.save(need, CTX)
        await first.commit()
    async with service.ports.uow() as winner, service.ports.uow() as loser:
        for uow in (winner, loser):
            copy = await uow.needs.get(need.stream_id)
            assert copy is not None
            copy.record_filled_positions(1, dt.date(2024, 9, 1))
            # Held, the save sends nothing; sent at once, the loser's would wait on the
            # winner's uncommitted row for good: fail fast instead of hanging.
            await asyncio.wait_for(uow.needs.save(copy, CTX), 10)
        await winner.commit()
        with pytest.raises(ConcurrencyConflict) as lost:
            await loser.commit()
    assert lost.value.rule.value == "CONCURRENT_UPDATE"

    async with service.ports.uow() as check:
        history = await check.needs.history(need.stream_id)
    async with service.runtime.sessions() as session:
        queued = await session.scalar(select(func.count()).select_from(core.outbox))
    assert len(history) == 2  # raised, and the winner's
    assert queued == 2


async def test_a_view_update_lets_held_rows_wait_unless_they_are_its_own(
    service: NeedsService,
) -> None:
    need = _need()
    async with service.ports.uow() as first:
        await first.needs.save(need, CTX)
        await first.commit()  # no view row: as for a stream whose row went missing

    with sent(service) as statements:
        async with service.ports.uow() as uow:
            loaded = await uow.needs.get(need.stream_id)
            assert loaded is not None
            loaded.record_filled_positions(1, dt.date(2024, 9, 1))
            await uow.needs.save(loaded, CTX)
            await uow.write_view(loaded, {"need_id": need.stream_id, "seen": 1})
            await uow.write_view(loaded, {"need_id": need.stream_id, "seen": 2})
            await uow.commit()
    # The first update changes nothing and holds an insert; the second must see that row.
    assert _verbs(statements) == ["SELECT", "UPDATE", "WITH", "UPDATE", "SELECT"]  # notify
    async with service.runtime.sessions() as session:
        bodies = (
            await session.scalars(
                select(needs_view.c.body).where(needs_view.c.need_id == need.stream_id)
            )
        ).all()
    assert len(bodies) == 1
    assert '"seen": 2' in bodies[0]


async def test_many_held_rows_go_one_statement_per_table(service: NeedsService) -> None:
    """A large shared run's rows: only a command's few are combined (so the statement caches
    keep small shapes); the rest go table by table, all in the transaction."""
    needs = [_need() for _ in range(10)]  # 30 rows: event, outbox row, list row each
    with sent(service) as statements:
        async with service.ports.uow() as uow:
            for need in needs:
                await uow.needs.save(need, CTX)
                await uow.write_view(need, {"need_id": need.stream_id})
            await uow.commit()
    assert "WITH" not in _verbs(statements)
    assert _verbs(statements).count("INSERT") == 3, statements
    async with service.runtime.sessions() as session:
        views = await session.scalar(
            select(func.count()).where(needs_view.c.need_id.in_([n.stream_id for n in needs]))
        )
    assert views == 10


async def test_rows_given_with_their_keys_in_another_order_share_one_part(
    service: NeedsService,
) -> None:
    """Keyed by the table's column order: one INSERT part, the rows in the order given (the
    parts of one statement run in no set order, so two parts could reorder the outbox)."""
    now = dt.datetime.now(dt.UTC)
    first = {"event_id": "e-1", "topic": "t", "key": "k", "payload": "{}", "created_at": now}
    second = {"created_at": now, "payload": "{}", "key": "k", "topic": "t", "event_id": "e-2"}
    with sent(service) as statements:
        async with service.runtime.sessions() as session, session.begin():
            inserts = Inserts(session, deferred=True)
            await inserts.rows(core.outbox, [first])
            await inserts.rows(core.outbox, [second])
            await inserts.flush()
    [combined] = statements
    assert combined.count("INSERT INTO") == 1, combined
    async with service.runtime.sessions() as session:
        stored = (
            await session.scalars(select(core.outbox.c.event_id).order_by(core.outbox.c.position))
        ).all()
    assert list(stored) == ["e-1", "e-2"]


async def test_the_remembered_answer_goes_in_the_commands_one_statement(
    kafka_bootstrap: str, pg_dsn: str
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    app = needs_app(d)
    async with running(app) as needs:
        service = next(s for s in app.state.services if isinstance(s, NeedsService))
        headers = auth.host() | {"Idempotency-Key": "one-statement"}
        with sent(service) as statements:
            made = await needs.post("/api/needs", json=need_body(), headers=headers)
        assert made.status_code == 201, made.text
        answered = [s for s in statements if "INSERT INTO command_answers" in s]
        assert len(answered) == 1, statements
        assert "event_store" in answered[0]

        again = await needs.post("/api/needs", json=need_body(), headers=headers)
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == made.json()
        listed = await needs.get("/api/needs", headers=auth.host())
        assert [n["need_id"] for n in listed.json()["items"]] == [made.json()["need_id"]]


@pytest.mark.parametrize("needs", [1, 20])  # a command's few rows, and one statement per table
async def test_an_answer_already_there_refuses_the_commit_and_leaves_nothing(
    service: NeedsService, needs: int
) -> None:
    answer = Answer("digest", 201, '{"first": true}')
    assert await service.answers.remember("http:caller", "taken", answer, ttl=None)
    raised = [_need() for _ in range(needs)]
    async with service.ports.uow() as uow:
        for need in raised:
            await uow.needs.save(need, CTX)
        retry = Answer("digest", 201, '{"second": true}')
        assert isinstance(uow, SqlNeedsUnitOfWork)
        await service.answers.insert(
            uow.session, "http:caller", "taken", retry, ttl=None, inserts=uow.inserts
        )
        with pytest.raises(AnswerExists):
            await uow.commit()

    found = await service.answers.find("http:caller", "taken")
    assert found is not None
    assert found.body == '{"first": true}'
    async with service.runtime.sessions() as session:
        queued = await session.scalar(select(func.count()).select_from(core.outbox))
    assert queued == 0


@contextlib.contextmanager
def begun(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each BEGIN the driver sends meanwhile."""
    sent: list[str] = []
    start = asyncpg.transaction.Transaction.start

    async def counted(self: asyncpg.transaction.Transaction) -> None:
        sent.append("BEGIN")
        await start(self)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
    try:
        yield sent
    finally:
        monkeypatch.setattr(asyncpg.transaction.Transaction, "start", start)


async def test_a_command_that_reads_nothing_is_one_statement_without_a_transaction(
    service: NeedsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    need = _need()
    with begun(monkeypatch) as begins, sent(service) as statements:
        async with service.ports.uow() as uow:
            await uow.needs.save(need, CTX)
            await uow.write_view(need, {"need_id": need.stream_id})
            await uow.commit()
    assert (begins, _verbs(statements)) == ([], ["WITH"])

    with begun(monkeypatch) as begins:  # a command that reads first keeps its transaction
        async with service.ports.uow() as uow:
            loaded = await uow.needs.get(need.stream_id)
            assert loaded is not None
            loaded.record_filled_positions(1, dt.date(2024, 9, 1))
            await uow.needs.save(loaded, CTX)
            await uow.commit()
    assert begins == ["BEGIN"]


async def test_on_its_own_a_lost_race_still_leaves_nothing(service: NeedsService) -> None:
    need = _need()
    twin = copy.deepcopy(need)  # the same stream raised twice (an id reused): the second fails
    async with service.ports.uow() as uow:
        await uow.needs.save(need, CTX)
        await uow.write_view(need, {"need_id": need.stream_id})
        await uow.commit()
    async with service.ports.uow() as uow:
        await uow.needs.save(twin, CTX)
        await uow.write_view(twin, {"need_id": twin.stream_id})
        # whichever unique constraint PostgreSQL meets first (the list row's, here)
        with pytest.raises((ConcurrencyConflict, IntegrityError)):
            await uow.commit()
    async with service.runtime.sessions() as session:
        queued = await session.scalar(select(func.count()).select_from(core.outbox))
        views = await session.scalar(select(func.count()).select_from(needs_view))
        stored = await session.scalar(select(func.count()).select_from(core.events))
    assert (queued, views, stored) == (1, 1, 1)  # nothing of the failed statement stayed
