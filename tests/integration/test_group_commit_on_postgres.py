"""Group commit on PostgreSQL: concurrent new needs share their statements (`group_commit`),
and every request still gets its own answer: each need raised once, a refused one (a key
already answered) refused alone while the others in its statement are written."""

import asyncio
from typing import Any

import pytest

import shared.infra.group_commit as group_commit
from tests import auth
from tests.integration.system import needs_app, new_deployment, running
from tests.samples import need_body

pytestmark = pytest.mark.integration


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of commands each statement of the group commit was asked to carry; then,
    for each command sent in a statement of its own (`_alone`), a 0."""
    sizes: list[int] = []
    write, alone = group_commit.GroupCommit._write, group_commit.GroupCommit._alone

    async def recording(self: group_commit.GroupCommit, batch: list[Any], notify: Any) -> None:
        sizes.append(len(batch))
        await write(self, batch, notify)

    async def alone_recorded(self: group_commit.GroupCommit, waiting: Any) -> None:
        sizes.append(0)
        await alone(self, waiting)

    monkeypatch.setattr(group_commit.GroupCommit, "_write", recording)
    monkeypatch.setattr(group_commit.GroupCommit, "_alone", alone_recorded)
    return sizes


def shared_statements(batches: list[int]) -> list[int]:
    return [b for b in batches if b > 1]


def sent_alone(batches: list[int]) -> int:
    return batches.count(0)


async def test_concurrent_new_needs_share_statements_and_all_commit(
    kafka_bootstrap: str, pg_dsn: str, batches: list[int]
) -> None:
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with running(needs_app(d)) as needs:
        answers = await asyncio.gather(
            *(
                needs.post(
                    "/api/needs",
                    json=need_body(positions=1 + i % 3),
                    headers=auth.host() | {"Idempotency-Key": f"burst-{i}"},
                )
                for i in range(24)
            )
        )
        assert [a.status_code for a in answers] == [201] * 24
        ids = {a.json()["need_id"] for a in answers}
        assert len(ids) == 24
        assert shared_statements(batches)  # some statement carried several commands
        assert sum(batches) == 24
        # Only the commands that met none went alone: no shared statement was refused.
        assert sent_alone(batches) == batches.count(1)

        listed = (await needs.get("/api/needs?limit=100", headers=auth.host())).json()["items"]
        assert {n["need_id"] for n in listed} == ids
        # Each answer was remembered with its own command: a retry replays it.
        again = await needs.post(
            "/api/needs",
            json=need_body(positions=1 + 5 % 3),
            headers=auth.host() | {"Idempotency-Key": "burst-5"},
        )
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == answers[5].json()


async def test_a_refused_command_in_a_shared_statement_leaves_the_others_written(
    kafka_bootstrap: str, pg_dsn: str, batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_commit, "IN_FLIGHT", 1)  # the burst waits behind the first
    d = await new_deployment(kafka_bootstrap, pg_dsn)
    async with running(needs_app(d)) as needs:
        first = await needs.post(
            "/api/needs", json=need_body(), headers=auth.host() | {"Idempotency-Key": "taken"}
        )
        assert first.status_code == 201
        batches.clear()
        keys = [f"fresh-{i}" for i in range(6)] + ["taken"] + [f"fresh-{i}" for i in range(6, 12)]
        answers = await asyncio.gather(
            *(
                needs.post(
                    "/api/needs", json=need_body(), headers=auth.host() | {"Idempotency-Key": k}
                )
                for k in keys
            )
        )
        assert [a.status_code for a in answers] == [201] * 13
        replayed = answers[6]
        assert replayed.headers["Idempotent-Replayed"] == "true"
        assert replayed.json() == first.json()
        # The shared statement carrying the answered key was refused, and each command in
        # it went again alone: more commands alone than met none.
        assert shared_statements(batches)
        assert sent_alone(batches) > batches.count(1)

        listed = (await needs.get("/api/needs?limit=100", headers=auth.host())).json()["items"]
        fresh = {a.json()["need_id"] for i, a in enumerate(answers) if i != 6}
        assert {n["need_id"] for n in listed} == fresh | {first.json()["need_id"]}
