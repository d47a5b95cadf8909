"""The command processor without a broker (the needs service on SQLite, its outbox read
directly): a reply commits with the command's events or not at all, a duplicate is answered
again identically, refusals carry their rule code, the agency is the topic's."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from services.needs.adapters.tables import command_answers, core, needs_view
from services.needs.adapters.unit_of_work import SqlNeedsUnitOfWork
from services.needs.bootstrap import NeedsService
from services.needs.config import NeedsSettings
from services.needs.entrypoints.kafka import command_routes
from shared.authz import Action
from shared.contract.commands import (
    CommandReply,
    CommandType,
    agency_of,
    commands_topic,
    replies_topic,
)
from shared.contract.rules import RuleCode
from shared.contract.topics import NEEDS_SOURCE
from shared.infra.commands import CommandProcessor, PoisonCommand
from shared.infra.eventstore import AggregateRepository
from shared.infra.transport import InProcessBus
from shared.seedwork.errors import DomainError
from tests.samples import need_body


def test_command_names_are_the_policy_actions() -> None:
    assert {c.value for c in CommandType} <= {a.value for a in Action}


@pytest.mark.parametrize(
    ("topic", "agency"),
    [
        ("p.secondment.commands.v1.SO_Y_TE", "SO_Y_TE"),
        ("p.secondment.commands.v1.SO_Y_TE.dlq", None),
        ("p.secondment.replies.v1.SO_Y_TE", None),
        ("secondment.commands.v1.SO_Y_TE", None),
        ("p.secondment.commands.v1.so_y_te", None),
        ("pXsecondment.commands.v1.SO_Y_TE", None),
    ],
)
def test_the_agency_is_the_suffix_of_its_own_commands_topic(topic: str, agency: str | None) -> None:
    assert agency_of(topic, "p.") == agency


class Needs:
    def __init__(self, service: NeedsService) -> None:
        self.service = service
        self.topics: list[str] = []

        async def ensure(name: str) -> None:
            self.topics.append(name)

        self.processor = CommandProcessor(
            source=NEEDS_SOURCE,
            routes=command_routes(service.ports),
            answers=service.answers,
            outbox=core.outbox,
            topic_prefix="",
            on_commit=lambda: None,
            ensure_topic=ensure,
            rejects_unknown_types=True,
            retry_for=0.2,
        )

    async def send(self, agency: str, body: dict[str, Any] | bytes) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        await self.processor.handle(commands_topic(agency), raw)

    async def replies(self, agency: str) -> list[str]:
        t = core.outbox
        async with self.service.runtime.sessions() as session:
            rows = await session.scalars(
                select(t.c.payload).where(t.c.topic == replies_topic(agency)).order_by(t.c.position)
            )
            return list(rows)

    async def count(self, table: Any) -> int:
        async with self.service.runtime.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
async def needs(tmp_path: Path) -> AsyncIterator[Needs]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'needs.db'}"
    service = NeedsService(NeedsSettings(database_url=url), InProcessBus())
    await service.migrate()  # no relay: the outbox keeps what the commands queued
    try:
        yield Needs(service)
    finally:
        await service.runtime.engine.dispose()


def _command(kind: str, data: dict[str, Any], command_id: str = "c-1", **attrs: Any) -> Any:
    return {"specversion": "1.0", "id": command_id, "source": "/t", "type": kind, "data": data} | (
        attrs
    )


async def test_an_accepted_reply_names_the_events_committed_with_it(needs: Needs) -> None:
    await needs.send("SO_Y_TE", _command("RaiseNeed", need_body()))

    [payload] = await needs.replies("SO_Y_TE")
    reply = CommandReply.model_validate_json(payload)
    accepted = reply.accepted()
    assert accepted is not None
    async with needs.service.runtime.sessions() as session:
        events = list(await session.scalars(select(core.events.c.event_id)))
    assert [str(i) for i in accepted.event_ids] == events
    assert (reply.subject, reply.causationid, reply.source) == ("c-1", "c-1", NEEDS_SOURCE)
    assert needs.topics == [replies_topic("SO_Y_TE")]


async def test_a_duplicate_is_answered_again_identically_and_applied_once(needs: Needs) -> None:
    for _ in range(3):
        await needs.send("SO_Y_TE", _command("RaiseNeed", need_body()))

    replies = await needs.replies("SO_Y_TE")
    assert len(replies) == 3
    assert len(set(replies)) == 1
    assert await needs.count(core.events) == 1
    assert await needs.count(command_answers) == 1


async def test_the_same_id_for_another_command_is_refused_and_changes_nothing(
    needs: Needs,
) -> None:
    await needs.send("SO_Y_TE", _command("RaiseNeed", need_body()))
    await needs.send("SO_Y_TE", _command("RaiseNeed", need_body(positions=5)))

    first, second = (CommandReply.model_validate_json(p) for p in await needs.replies("SO_Y_TE"))
    assert first.type == "CommandAccepted"
    rejected = second.rejected()
    assert rejected is not None
    assert rejected.rule == "INVALID_REQUEST"
    assert await needs.count(core.events) == 1


async def test_a_command_that_fails_before_its_commit_leaves_no_reply_and_runs_again(
    needs: Needs, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*_: object) -> None:
        raise RuntimeError("the process died before committing")

    with monkeypatch.context() as m:
        m.setattr(SqlNeedsUnitOfWork, "write_view", crash)
        with pytest.raises(RuntimeError):
            await needs.send("SO_Y_TE", _command("RaiseNeed", need_body()))
    assert await needs.replies("SO_Y_TE") == []
    assert await needs.count(core.events) == 0
    assert await needs.count(command_answers) == 0

    await needs.send("SO_Y_TE", _command("RaiseNeed", need_body()))  # the redelivery
    [reply] = await needs.replies("SO_Y_TE")
    assert CommandReply.model_validate_json(reply).type == "CommandAccepted"
    assert await needs.count(core.events) == 1


@pytest.mark.parametrize(
    ("agency", "command", "rule"),
    [
        ("NAM_GIANG", _command("RaiseNeed", need_body()), "FORBIDDEN"),
        ("NOT_A_UNIT", _command("RaiseNeed", need_body(host_unit="NOT_A_UNIT")), "FORBIDDEN"),
        ("NAM_GIANG", _command("RaiseNeed", need_body(), agency="SO_Y_TE"), "FORBIDDEN"),
        ("SO_Y_TE", _command("RaiseNeed", need_body(sector="NOPE")), "UNKNOWN_CODE"),
        ("SO_Y_TE", _command("RaiseNeed", {"positions": 1}), "INVALID_REQUEST"),
        ("SO_Y_TE", _command("WithdrawNeed", {"need_id": "x", "reason": "r"}), "INVALID_REQUEST"),
        ("SO_Y_TE", _command("AmendNeed", {"need_id": "0" * 32}), "NOT_FOUND"),
        ("SO_Y_TE", _command("Reorganise", {}), "INVALID_REQUEST"),
        ("SO_Y_TE", {"id": "c-1", "type": "RaiseNeed"}, "INVALID_REQUEST"),
    ],
)
async def test_refusals_carry_their_rule_code_and_change_nothing(
    needs: Needs, agency: str, command: dict[str, Any], rule: str
) -> None:
    await needs.send(agency, command)

    [payload] = await needs.replies(agency)
    rejected = CommandReply.model_validate_json(payload).rejected()
    assert rejected is not None
    assert (rejected.command_id, rejected.rule) == ("c-1", rule)
    assert await needs.count(core.events) == 0


async def test_another_services_command_is_left_to_it(needs: Needs) -> None:
    await needs.send("NAM_GIANG", _command("EndSecondment", {"secondment_id": "x"}))
    await needs.send("NAM_GIANG", {"id": "c-2", "type": "EndSecondment"})
    assert await needs.replies("NAM_GIANG") == []


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", json.dumps({"type": "RaiseNeed"}).encode()]
)
async def test_a_record_that_cannot_be_answered_is_poison(needs: Needs, body: bytes) -> None:
    with pytest.raises(PoisonCommand):
        await needs.send("SO_Y_TE", body)


async def test_the_same_command_handled_twice_at_once_is_applied_once(needs: Needs) -> None:
    command = _command("RaiseNeed", need_body())
    await asyncio.gather(*(needs.send("SO_Y_TE", command) for _ in range(3)))

    replies = await needs.replies("SO_Y_TE")
    assert len(replies) == 3
    assert len(set(replies)) == 1
    assert await needs.count(core.events) == 1


async def test_invalid_commands_are_refused_and_parked_without_the_data_they_held(
    needs: Needs, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15, item 4: pydantic's errors carry the failing input (a missing field's is the
    whole object); refusals, poison reasons and logs keep where and why, never the values."""
    caplog.set_level(logging.INFO)
    secret = "Zơrâm Thị Bí Mật, sinh 1979-11-23"
    body = need_body(description=secret)
    del body["sector"]
    await needs.send("SO_Y_TE", _command("RaiseNeed", body))
    [payload] = await needs.replies("SO_Y_TE")
    assert "sector" in payload
    with pytest.raises(PoisonCommand) as parked:
        await needs.send("SO_Y_TE", {"type": "RaiseNeed", "data": {"description": secret}})
    assert "id" in str(parked.value)
    for text in (payload, str(parked.value), caplog.text):
        assert "Zơrâm" not in text
        assert "1979-11-23" not in text


async def test_an_accepted_commands_audit_entry_commits_with_its_reply(needs: Needs) -> None:
    """With an audit store forwarding from the service (`audit_table`), the entry of an
    accepted command is in the service's `audit_outbox` with its events and reply; a refusal
    and a replay write none there (they change nothing; the store gets them directly)."""
    table = core.audit_outbox
    assert table is not None
    needs.processor._audit_table = lambda: table

    await needs.send("SO_Y_TE", _command("RaiseNeed", need_body()))
    await needs.send("SO_Y_TE", _command("RaiseNeed", need_body()))  # a replay
    await needs.send("SO_Y_TE", _command("RaiseNeed", {"positions": 0}, command_id="c-2"))

    async with needs.service.runtime.sessions() as session:
        entries = list(await session.scalars(select(table.c.entry)))
        need_id = await session.scalar(select(core.events.c.stream_id))
    assert len(entries) == 1
    entry = json.loads(entries[0])
    assert (entry["channel"], entry["agency"], entry["action"], entry["outcome"]) == (
        "kafka",
        "SO_Y_TE",
        "RaiseNeed",
        "ACCEPTED",
    )
    assert ["need", need_id] in entry["records"]
    assert ["command", "c-1"] in entry["records"]


# ----- a fetch of commands in one transaction (`handle_many`) --------------------------------


async def _fetch(needs: Needs, agency: str, commands: list[Any]) -> int:
    bodies = [c if isinstance(c, bytes) else json.dumps(c).encode() for c in commands]
    return await needs.processor.handle_many(commands_topic(agency), bodies)


def _commits(needs: Needs) -> list[int]:
    """Counts the transactions committed on the service's database from now on."""
    counted: list[int] = []
    engine = needs.service.runtime.engine.sync_engine
    event.listen(engine, "commit", lambda _: counted.append(1))
    return counted


async def test_a_fetch_of_commands_commits_once_and_answers_each_as_one_by_one_would(
    needs: Needs,
) -> None:
    table = core.audit_outbox
    assert table is not None
    needs.processor._audit_table = lambda: table
    commits = _commits(needs)
    ids = [f"c-{i}" for i in range(5)]
    commands = [_command("RaiseNeed", need_body(positions=i + 1), c) for i, c in enumerate(ids)]
    other = _command("EndSecondment", {"secondment_id": "x"}, "c-other")  # placement's

    assert await _fetch(needs, "SO_Y_TE", [*commands[:2], other, *commands[2:]]) == 6

    assert len(commits) == 1
    replies = [CommandReply.model_validate_json(p) for p in await needs.replies("SO_Y_TE")]
    assert [r.subject for r in replies] == ids
    async with needs.service.runtime.sessions() as session:
        in_order = select(core.events.c.stream_id).order_by(core.events.c.position)
        streams = list(await session.scalars(in_order))
        entries = [json.loads(e) for e in await session.scalars(select(table.c.entry))]
    for reply, stream in zip(replies, streams, strict=True):
        accepted = reply.accepted()
        assert accepted is not None
        assert accepted.record_id == stream
    assert [e["outcome"] for e in entries] == ["ACCEPTED"] * 5
    assert await needs.count(command_answers) == 5

    for command in commands:  # the fetch redelivered after a crash: answered, applied once
        await needs.send("SO_Y_TE", command)
    again = await needs.replies("SO_Y_TE")
    assert again[5:] == again[:5]
    assert await needs.count(core.events) == 5


@pytest.mark.parametrize(
    "odd_one",
    [
        _command("RaiseNeed", need_body(), "c-0"),  # the same id twice
        _command("Reorganise", {}, "c-2"),  # unknown: refused by this service
        {"id": "c-2", "type": "RaiseNeed"},  # invalid envelope
        b"[" * 100_000 + b"]" * 100_000,  # too deep for the JSON parser (RecursionError)
        _command("RaiseNeed", need_body(), "c-answered"),  # answered before
    ],
)
async def test_a_fetch_commits_the_plain_commands_before_anything_else_and_stops_there(
    needs: Needs, odd_one: Any
) -> None:
    await needs.send("SO_Y_TE", _command("RaiseNeed", need_body(), "c-answered"))
    commits = _commits(needs)
    commands = [_command("RaiseNeed", need_body(), f"c-{i}") for i in range(2)]
    commands += [odd_one, _command("RaiseNeed", need_body(), "c-3")]

    assert await _fetch(needs, "SO_Y_TE", commands) == 2

    assert len(commits) == 1
    replies = [CommandReply.model_validate_json(p) for p in await needs.replies("SO_Y_TE")]
    assert [r.subject for r in replies[1:]] == ["c-0", "c-1"]
    assert await needs.count(core.events) == 3
    assert await needs.count(command_answers) == 3


async def test_a_refusal_before_any_write_is_answered_with_the_run_and_the_run_goes_on(
    needs: Needs,
) -> None:
    commits = _commits(needs)
    commands = [_command("RaiseNeed", need_body(sector="NOPE"), "c-0")]
    commands += [_command("RaiseNeed", need_body(), f"c-{i}") for i in (1, 2)]
    commands.insert(2, _command("RaiseNeed", need_body(host_unit="NAM_GIANG"), "c-x"))

    assert await _fetch(needs, "SO_Y_TE", commands) == 4

    assert len(commits) == 1
    replies = [CommandReply.model_validate_json(p) for p in await needs.replies("SO_Y_TE")]
    assert [(r.subject, r.type) for r in replies] == [
        ("c-0", "CommandRejected"),
        ("c-1", "CommandAccepted"),
        ("c-x", "CommandRejected"),
        ("c-2", "CommandAccepted"),
    ]
    rules = [r.rejected().rule for r in replies if r.rejected() is not None]  # type: ignore[union-attr]
    assert rules == ["UNKNOWN_CODE", "FORBIDDEN"]
    assert await needs.count(core.events) == 2
    assert await needs.count(command_answers) == 4
    await needs.send("SO_Y_TE", commands[0])  # redelivered: the same rejection, from memory
    assert (await needs.replies("SO_Y_TE"))[-1] == (await needs.replies("SO_Y_TE"))[0]


@pytest.mark.parametrize(
    ("rule", "after_writing"),
    [(RuleCode.NEED_NOT_OPEN, True), (RuleCode.NEED_NOT_YET_KNOWN, False)],
)
async def test_a_refusal_after_a_write_or_a_transient_one_ends_the_run_before_it(
    needs: Needs, monkeypatch: pytest.MonkeyPatch, rule: RuleCode, after_writing: bool
) -> None:
    """A refusal that may not hold a moment later is retried alone; one raised after the
    command wrote in the shared transaction cannot be taken out of it: the commands before it
    are run again without it."""
    calls: list[int] = []
    write_view = SqlNeedsUnitOfWork.write_view
    save = AggregateRepository.save

    def refusing_second(real: Any) -> Any:
        async def maybe(*args: Any) -> Any:
            calls.append(1)
            if len(calls) == 2:
                raise DomainError(rule, "refused")
            return await real(*args)

        return maybe

    if after_writing:
        monkeypatch.setattr(SqlNeedsUnitOfWork, "write_view", refusing_second(write_view))
    else:
        monkeypatch.setattr(AggregateRepository, "save", refusing_second(save))
    commands = [_command("RaiseNeed", need_body(), f"c-{i}") for i in range(3)]

    assert await _fetch(needs, "SO_Y_TE", commands) == 1

    assert [
        CommandReply.model_validate_json(p).subject for p in await needs.replies("SO_Y_TE")
    ] == ["c-0"]
    assert await needs.count(core.events) == 1


async def test_an_error_in_the_middle_of_a_fetch_rolls_all_of_it_back(
    needs: Needs, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    write_view = SqlNeedsUnitOfWork.write_view

    async def third_fails(self: SqlNeedsUnitOfWork, *args: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        await write_view(self, *args)

    monkeypatch.setattr(SqlNeedsUnitOfWork, "write_view", third_fails)
    commands = [_command("RaiseNeed", need_body(), f"c-{i}") for i in range(4)]

    assert await _fetch(needs, "SO_Y_TE", commands) == 0
    assert await needs.replies("SO_Y_TE") == []
    assert await needs.count(core.events) == 0
    assert await needs.count(command_answers) == 0


async def test_a_refusal_after_an_update_ends_the_run_before_it(
    needs: Needs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes that are not held inserts count too: a refusal after an UPDATE cannot be
    answered inside the run."""
    calls: list[int] = []
    save = AggregateRepository.save

    async def updates_then_refuses(self: AggregateRepository[Any], *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            await self._store._session.execute(
                update(needs_view).where(needs_view.c.need_id == "none").values(status="X")
            )
            raise DomainError(RuleCode.NEED_NOT_OPEN, "refused")
        return await save(self, *args)

    monkeypatch.setattr(AggregateRepository, "save", updates_then_refuses)
    commands = [_command("RaiseNeed", need_body(), f"c-{i}") for i in range(3)]

    assert await _fetch(needs, "SO_Y_TE", commands) == 1
    assert await needs.count(core.events) == 1
