"""A command's audit entry commits with the command (`shared.infra.audit_outbox`): it is in
the service's database the moment the command is, reaches the audit store by the forwarder,
once even when forwarded twice, and survives a failure between the commit and the answer.
(Killed processes: the fault suite checks every accepted need and secondment has exactly one
ACCEPTED entry, `tests/faults/run.py` `_audited_once`.)"""

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import insert, select

from services.embedded.app import create_embedded_app
from shared.http.tokens import DevIssuer
from shared.infra.audit import AuditLog
from shared.infra.audit_outbox import AuditForwarder
from shared.infra.audit_tables import audit_log, audit_records
from shared.infra.runtime import ServiceRuntime
from shared.infra.uow import SqlUnitOfWork
from tests.auth import HOST_SCOPES
from tests.samples import need_body

pytestmark = pytest.mark.e2e


class App:
    def __init__(
        self, client: httpx.AsyncClient, runtime: ServiceRuntime, audit: AuditLog, issuer: DevIssuer
    ):
        self.client = client
        self.issuer = issuer
        self.runtime = runtime
        self.audit = audit
        assert runtime.audit_forwarder is not None
        self.forwarder: AuditForwarder = runtime.audit_forwarder

    async def raise_need(self) -> httpx.Response:
        token = self.issuer.mint("SO_Y_TE", HOST_SCOPES)
        return await self.client.post(
            "/api/needs", json=need_body(), headers={"Authorization": f"Bearer {token}"}
        )

    async def outbox(self) -> list[Any]:
        table = self.forwarder._t
        async with self.runtime.sessions() as session:
            return list((await session.execute(select(table))).all())

    async def accepted(self, need_id: str) -> list[str]:
        """Outcomes of the store's RaiseNeed entries naming the need, read without forwarding."""
        async with self.audit._sessions() as session:
            rows = await session.execute(
                select(audit_log.c.outcome)
                .join(audit_records, audit_records.c.position == audit_log.c.position)
                .where(audit_log.c.action == "RaiseNeed", audit_records.c.record_id == need_id)
            )
            return [r.outcome for r in rows]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    embedded = create_embedded_app(tmp_path / "var")
    async with embedded.router.lifespan_context(embedded):
        transport = httpx.ASGITransport(app=embedded, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            (needs,) = [s for s in embedded.state.services if s.runtime.name == "needs"]
            yield App(client, needs.runtime, embedded.state.audit, embedded.state.dev_issuer)


async def _held(app: App) -> None:
    """The forwarder stopped, as in a process killed right after the command committed."""
    await app.forwarder.stop()


async def test_the_entry_is_in_the_services_database_with_the_command(app: App) -> None:
    await _held(app)

    answer = await app.raise_need()

    assert answer.status_code == 201
    need_id = answer.json()["need_id"]
    (row,) = await app.outbox()
    assert need_id in row.entry
    assert await app.accepted(need_id) == []  # not in the store yet: only the forwarder moves it

    assert await app.forwarder.forward() == 1

    assert await app.accepted(need_id) == ["ACCEPTED"]
    assert await app.outbox() == []


async def test_an_entry_forwarded_twice_is_kept_once(app: App) -> None:
    await _held(app)
    need_id = (await app.raise_need()).json()["need_id"]
    (row,) = await app.outbox()
    await app.forwarder.forward()

    # The forwarder stopped after the store's commit, before deleting its row: sent again.
    async with app.runtime.sessions() as session, session.begin():
        await session.execute(insert(app.forwarder._t).values(**row._asdict()))
    assert await app.forwarder.forward() == 1

    assert await app.accepted(need_id) == ["ACCEPTED"]
    assert await app.outbox() == []


async def test_a_failure_after_the_commit_keeps_the_commands_entry(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _held(app)
    commit = SqlUnitOfWork.commit

    async def crash(uow: SqlUnitOfWork, answer: BaseModel | None = None) -> None:
        await commit(uow, answer)
        raise OSError("the service stopped after committing")

    with monkeypatch.context() as m:
        m.setattr(SqlUnitOfWork, "commit", crash)
        failed = await app.raise_need()
    assert failed.status_code == 500
    (row,) = await app.outbox()  # committed with the need
    assert '"outcome":"ACCEPTED"' in row.entry

    await app.forwarder.forward()

    async with app.audit._sessions() as session:
        outcomes = sorted(
            (
                await session.scalars(
                    select(audit_log.c.outcome).where(audit_log.c.action == "RaiseNeed")
                )
            ).all()
        )
    assert outcomes == ["ACCEPTED", "FAILED"]  # the need was made; the request failed


async def test_a_refusal_changes_nothing_and_is_written_straight_to_the_store(app: App) -> None:
    await _held(app)
    token = app.issuer.mint("SO_Y_TE", ("needs:read",))  # no needs:write

    refused = await app.client.post(
        "/api/needs", json=need_body(), headers={"Authorization": f"Bearer {token}"}
    )

    assert refused.status_code == 403
    assert await app.outbox() == []
    async with app.audit._sessions() as session:
        outcomes = (await session.scalars(select(audit_log.c.outcome))).all()
    assert "REFUSED" in outcomes


async def test_an_entry_that_cannot_be_read_does_not_hold_the_others_back(app: App) -> None:
    await _held(app)
    need_id = (await app.raise_need()).json()["need_id"]
    async with app.runtime.sessions() as session, session.begin():  # before it, in order
        await session.execute(
            insert(app.forwarder._t).values(
                position=0, entry_id="broken", occurred_at=dt.datetime.now(dt.UTC), entry="{"
            )
        )

    await app.forwarder.forward()

    assert await app.accepted(need_id) == ["ACCEPTED"]
    assert await app.outbox() == []


async def test_reads_and_refusals_forward_only_when_a_command_committed_an_entry(
    app: App,
) -> None:
    await app.forwarder.forward()
    assert not app.forwarder.dirty  # nothing committed since: a read costs the service nothing
    (await app.raise_need()).json()
    assert app.forwarder.dirty
    await app.audit.forward_committed()  # what a read or a direct write does first
    assert not app.forwarder.dirty
    assert await app.outbox() == []
