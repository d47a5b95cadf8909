"""Commands from agencies over Kafka, run by the same handlers as over HTTP, each answered
on the agency's replies topic and applied at most once.

For one record of `secondment.commands.v1.<UNIT>`:
1. the agency is the topic's suffix (`shared.authz.kafka_principal`), never the payload;
2. a command id already answered (`command_answers`, caller `kafka:<UNIT>`) is not run again:
   its stored reply is queued again, byte for byte (the same id under another command is
   rejected with INVALID_REQUEST and nothing else happens);
3. otherwise the command's handler runs with its answer pending: the transaction that commits
   the command's events also writes the `CommandAccepted` reply to the outbox and remembers it;
   a refusal (`DomainError`, `Forbidden`, invalid `data`) writes `CommandRejected` and its
   memory in a transaction of their own. Replies are thus never lost, never sent for a command
   that did not commit, and leave through the outbox relay like every event.
Transient refusals (`NEED_NOT_YET_KNOWN`, `CONCURRENT_UPDATE`) are retried for a while first,
and are not remembered: the same command sent again runs again.

A fetch of records is first tried as a whole (`CommandProcessor.handle_many`): the same steps
for each command, in one transaction shared by their units of work; a record that is not a
plain case (a new command, accepted, or refused before it wrote anything) ends the run, and
goes alone.

Reading a command's `data` is `command_parsing.py`; its audit entry, `command_audit.py`.
Longer than 400 lines: the one-by-one and the whole-fetch paths are the same job, run the same
steps (parse, route, pending reply, audit, metrics) and share the processor's state; split,
each would reach into the other's private parts.
"""

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.authz import KAFKA_SUBJECT, Forbidden, Principal, kafka_principal
from shared.contract.commands import (
    CommandAccepted,
    CommandEnvelope,
    CommandRejected,
    CommandReply,
    CommandType,
    ReplyData,
    agency_of,
    new_reply,
    replies_topic,
)
from shared.contract.envelope import CloudEvent
from shared.contract.rules import RULES, RuleCode
from shared.infra import logs
from shared.infra.answers import Answer, AnswerExists, CommandAnswers, answering, request_digest
from shared.infra.audit import AuditLog
from shared.infra.audit_entries import Outcome
from shared.infra.audit_outbox import commit_entry
from shared.infra.command_audit import (
    Handled,
    audit_command,
    command_entry,
    records_of,
    refused_outcome,
)
from shared.infra.command_parsing import Refused, issues, parse
from shared.infra.fast_insert import Inserts
from shared.infra.held_sql import insert_of
from shared.infra.metrics import observe_command
from shared.infra.redact import validation_issues
from shared.infra.uow import SharedTransaction, sharing
from shared.seedwork.errors import DomainError
from shared.seedwork.ports import RequestContext

log = logging.getLogger(__name__)

TRANSIENT = frozenset({RuleCode.NEED_NOT_YET_KNOWN, RuleCode.CONCURRENT_UPDATE})
"""Refusals that may not hold a moment later: retried, then answered but not remembered."""

ACCEPTED_STATUS = 200

COMMAND_TYPES = frozenset(CommandType)

Span = Callable[[int], AbstractContextManager[None]]
"""The tracing span of the i-th record of a fetch (`shared.infra.tracing.consuming_record`)."""


class PoisonCommand(Exception):
    """A record that can never be answered (not JSON, no usable command id): dead-lettered."""


Run = Callable[[Principal, str | None, Any, RequestContext], Awaitable[BaseModel]]
"""(principal, target id, the validated HTTP body, context) → the HTTP answer."""


OnTarget = Callable[[Principal, str, Any, RequestContext], Awaitable[BaseModel]]
"""(principal, the id of the record the command acts on, the command, context) → the answer."""


def on_target(run: OnTarget) -> Run:
    """The `Run` of a command on an existing record, which its envelope's target names."""

    async def with_target(
        who: Principal, target: str | None, cmd: Any, ctx: RequestContext
    ) -> BaseModel:
        assert target is not None
        return await run(who, target, cmd, ctx)

    return with_target


@dataclass(frozen=True)
class CommandRoute:
    """How a service runs one command type: the HTTP body model and the handler."""

    model: type[BaseModel]
    run: Run


class CommandProcessor:
    """One service's consumer of agencies' commands (Kafka-independent: bytes in, outbox out)."""

    def __init__(
        self,
        *,
        source: str,
        routes: Mapping[CommandType, CommandRoute],
        answers: CommandAnswers,
        outbox: Table,
        topic_prefix: str,
        on_commit: Callable[[], None],
        ensure_topic: Callable[[str], Awaitable[None]],
        audit: AuditLog | None = None,
        audit_table: Callable[[], Table | None] = lambda: None,
        rejects_unknown_types: bool = False,
        retry_for: float = 30.0,
        service: str = "",
    ) -> None:
        """`service` labels the commands' metrics (`shared.infra.metrics`); `audit_table`
        is where an accepted command commits its audit entry with its reply (None: the
        entry is written to `audit` after the command)."""
        self._service = service or source
        self._source = source
        self._routes = routes
        self._answers = answers
        self._sessions: async_sessionmaker[AsyncSession] = answers.sessions
        self._outbox = outbox
        self._prefix = topic_prefix
        self._on_commit = on_commit
        self._ensure_topic = ensure_topic
        self._audit = audit
        self._audit_table = audit_table
        self._rejects_unknown = rejects_unknown_types
        self._retry_for = retry_for

    async def handle(self, topic: str, body: bytes) -> None:
        """Process one record of an agency's commands topic; returns after committing."""
        started = time.monotonic()
        agency = agency_of(topic, self._prefix)
        if agency is None:
            raise PoisonCommand(f"{topic} is not an agency's commands topic")
        await self._ensure_topic(replies_topic(agency, self._prefix))
        try:
            raw = json.loads(body)
        except ValueError as exc:
            raise PoisonCommand(f"not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise PoisonCommand("not a JSON object")
        try:
            envelope = CommandEnvelope.model_validate(raw)
        except ValidationError as exc:
            await self._invalid_envelope(agency, raw, exc, started)
            return
        logs.bind_now(agency=agency, command_id=str(envelope.id), trace_id=envelope.correlationid)
        if envelope.type not in COMMAND_TYPES:
            if self._rejects_unknown:
                refused = Refused(RuleCode.INVALID_REQUEST, f"unknown command {envelope.type!r}")
                await self._reject(agency, envelope.id, envelope.type, envelope, refused)
                outcome = refused_outcome(refused)
                await audit_command(self._audit, agency, envelope.id, envelope.type, outcome)
                self._observe(None, outcome, started)
            return
        kind = CommandType(envelope.type)
        if kind not in self._routes:
            return  # another service's command
        try:
            outcome = await self._once(agency, kind, envelope)
        except Exception:
            observe_command(self._service, "kafka", kind.value, "error", None, _since(started))
            raise
        await audit_command(self._audit, agency, envelope.id, kind.value, outcome)
        self._observe(kind, outcome, started)

    async def handle_many(
        self, topic: str, bodies: Sequence[bytes], span: Span | None = None
    ) -> int:
        """Process the first records of a fetch of one commands topic together, in one
        transaction (one BEGIN, one COMMIT, one look-up in the command log, one relay wake-up
        for all of them); returns how many records that was (0: none).

        Those records were handled as `handle` would have: each command applied and answered,
        its audit entry committed with it, or refused and its rejection remembered (another
        service's command left alone). Only the plain cases are taken together: a valid
        command of ours, never seen before, accepted or refused before it wrote anything. The
        first record that is anything else (a command already answered, an id twice, anything
        `handle` would reject or dead-letter, a transient refusal, a refusal after the command
        wrote) ends the run: what came before it commits, it is left to `handle` alone, and
        what follows can be offered again. Any other error rolls everything back (0), and the
        records go one by one."""
        started = time.monotonic()
        agency = agency_of(topic, self._prefix)
        if agency is None:
            return 0
        caller = f"kafka:{agency}"
        try:
            batch, limit = self._leading(bodies)
            if batch:
                await self._ensure_topic(replies_topic(agency, self._prefix))
                seen = await self._answers.answered(caller, [e.id for _, _, e in batch])
                batch, limit = _before(batch, limit, lambda e: e.id in seen)
            handled: list[tuple[CommandType, CommandEnvelope, Handled]] = []
            try:
                handled = await self._joined(agency, caller, batch, span)
            except _Declined as declined:  # commit the commands before it, without it
                batch, limit = batch[: declined.at], batch[declined.at][0]
                handled = await self._joined(agency, caller, batch, span)
        except Exception as exc:  # noqa: BLE001 - any error: the records go one by one
            # The type only: a driver's error carries the statement's parameters (the held
            # rows, personal data among them). The one-by-one path meets it again and says more.
            log.warning("a fetch of %d commands of %s goes one by one after %s", len(bodies),
                        topic, type(exc).__name__)  # fmt: skip
            return 0
        if handled:
            self._on_commit()
        for kind, envelope, outcome in handled:
            await audit_command(self._audit, agency, envelope.id, kind.value, outcome)
            self._observe(kind, outcome, started)
        return limit

    def _leading(
        self, bodies: Sequence[bytes]
    ) -> tuple[list[tuple[int, CommandType, CommandEnvelope]], int]:
        """The commands of ours among the leading records that can go together, and how many
        records that is: up to the first one that is not a valid command of a known type,
        or repeats an id."""
        batch: list[tuple[int, CommandType, CommandEnvelope]] = []
        ids: set[str] = set()
        for i, body in enumerate(bodies):
            try:
                envelope = CommandEnvelope.model_validate(json.loads(body))
            except Exception:  # noqa: BLE001 - not JSON, too deep, invalid: handle() decides
                return batch, i
            if envelope.type not in COMMAND_TYPES:
                if self._rejects_unknown:
                    return batch, i
                continue
            kind = CommandType(envelope.type)
            if kind not in self._routes:
                continue  # another service's command
            if envelope.id in ids:
                return batch, i
            ids.add(envelope.id)
            batch.append((i, kind, envelope))
        return batch, len(bodies)

    async def _joined(
        self,
        agency: str,
        caller: str,
        batch: Sequence[tuple[int, CommandType, CommandEnvelope]],
        span: Span | None,
    ) -> list[tuple[CommandType, CommandEnvelope, Handled]]:
        """Run `batch` in one shared transaction and commit it: each command accepted, or
        refused before it wrote anything; _Declined (all rolled back) at the first that is
        neither, or refused as transient."""
        handled: list[tuple[CommandType, CommandEnvelope, Handled]] = []
        if not batch:
            return handled
        shared = SharedTransaction(self._sessions)
        try:
            await shared.session.begin()
            with sharing(shared):
                for at, (i, kind, envelope) in enumerate(batch):
                    with span(i) if span is not None else contextlib.nullcontext():
                        data = json.dumps(envelope.data, sort_keys=True)
                        one = _InRun(shared, agency, caller, kind, envelope,
                                     request_digest(kind.value, data))  # fmt: skip
                        writes = shared.inserts.writes
                        try:
                            handled.append(await self._joining(one))
                        except (DomainError, Forbidden, Refused) as exc:
                            refused = _refusal(exc)
                            if refused.rule in TRANSIENT or shared.inserts.writes != writes:
                                raise _Declined(at) from exc
                            handled.append(await self._refused_in(one, refused))
            await shared.commit()
        except BaseException:
            await shared.close()
            raise
        with contextlib.suppress(Exception):  # committed: a failed hand-back changes nothing
            await shared.close()
        return handled

    async def _joining(self, one: "_InRun") -> tuple[CommandType, CommandEnvelope, Handled]:
        """One command of a shared transaction, accepted (else the refusal is raised)."""
        agency, kind, envelope = one.agency, one.kind, one.envelope
        logs.bind_now(agency=agency, command_id=str(envelope.id), trace_id=envelope.correlationid)
        route = self._routes[kind]
        pending = _Accepting(self, agency, kind, envelope, one.caller, one.digest)
        pending.inserts = one.shared.inserts
        pending.target, command = parse(kind, route.model, envelope.data)
        with answering(pending):
            await route.run(kafka_principal(agency), pending.target, command,
                            self._context(agency, envelope))  # fmt: skip
        if pending.reply is None:  # the handler committed nothing of ours
            await pending.write(one.shared.session, None, ())
        assert pending.reply is not None
        records = records_of(envelope, kind, pending.reply)
        return kind, envelope, Handled(Outcome.ACCEPTED, None, records, committed=pending.audited)

    async def _refused_in(
        self, one: "_InRun", refused: Refused
    ) -> tuple[CommandType, CommandEnvelope, Handled]:
        """A command of a shared transaction refused before it wrote anything: its rejection
        and its memory are written there, as `_reject` writes them alone."""
        kind, envelope, inserts = one.kind, one.envelope, one.shared.inserts
        reply = self._rejection(envelope.id, kind.value, envelope, refused)
        payload = reply.model_dump_json()
        answer = Answer(one.digest, RULES[refused.rule].status, payload)
        await self._answers.insert_new(inserts, one.shared.session, one.caller, envelope.id,
                                       answer)  # fmt: skip
        await inserts.rows(self._outbox, [self._reply_row(one.agency, reply, payload)])
        return kind, envelope, refused_outcome(refused, records_of(envelope, kind, None))

    def _context(self, agency: str, envelope: CommandEnvelope) -> RequestContext:
        return RequestContext(
            actor=f"{agency}/{KAFKA_SUBJECT}",
            correlation_id=envelope.correlationid or envelope.id,
            causation_id=envelope.id,
            now=dt.datetime.now(dt.UTC),
        )

    def _observe(self, kind: CommandType | None, outcome: Handled, started: float) -> None:
        """Count and time one answered command; a type not ours is `unknown` (its name is
        the sender's text, not a label)."""
        name = kind.value if kind is not None else "unknown"
        rule = outcome.rule.value if outcome.rule else None
        state = "error" if outcome.outcome is Outcome.FAILED else outcome.outcome.value.lower()
        observe_command(self._service, "kafka", name, state, rule, _since(started))

    async def _once(self, agency: str, kind: CommandType, envelope: CommandEnvelope) -> Handled:
        caller = f"kafka:{agency}"
        digest = request_digest(kind.value, json.dumps(envelope.data, sort_keys=True))
        while True:
            found = await self._answers.find(caller, envelope.id)
            if found is not None:
                return await self._seen(agency, kind, envelope, found, digest)
            try:
                return await self._run(agency, kind, envelope, caller, digest)
            except AnswerExists:
                continue  # the same command, committed by another consumer just now

    async def _seen(
        self, agency: str, kind: CommandType, envelope: CommandEnvelope, found: Answer, digest: str
    ) -> Handled:
        if found.request_sha256 != digest:
            refused = Refused(
                RuleCode.INVALID_REQUEST,
                f"command id {envelope.id} was already used for another command; "
                "nothing was applied (use a new id)",
            )
            await self._reject(agency, envelope.id, kind.value, envelope, refused)
            return refused_outcome(refused)
        assert found.body is not None
        reply = CommandReply.model_validate_json(found.body)
        async with self._sessions() as session, session.begin():
            await self._queue(session, agency, reply)
        self._on_commit()
        rejected = reply.rejected()
        return Handled(
            Outcome.REPLAYED,
            rejected.rule if rejected else None,
            records_of(envelope, kind, reply),
        )

    async def _run(
        self, agency: str, kind: CommandType, envelope: CommandEnvelope, caller: str, digest: str
    ) -> Handled:
        route = self._routes[kind]
        principal = kafka_principal(agency)
        ctx = self._context(agency, envelope)
        pending = _Accepting(self, agency, kind, envelope, caller, digest)
        try:
            target, command = parse(kind, route.model, envelope.data)
            pending.target = target
            await self._attempt(route, principal, target, command, ctx, pending)
        except Refused as refused:
            remembered = refused.rule not in TRANSIENT
            await self._reject(agency, envelope.id, kind.value, envelope, refused,
                               remember=(caller, digest) if remembered else None)  # fmt: skip
            return refused_outcome(refused, records_of(envelope, kind, None))
        if pending.reply is None:  # the handler committed nothing of ours: answer anyway
            async with self._sessions() as session, session.begin():
                await pending.write(session, None, ())
            self._on_commit()
        assert pending.reply is not None
        records = records_of(envelope, kind, pending.reply)
        return Handled(Outcome.ACCEPTED, None, records, committed=pending.audited)

    async def _attempt(
        self,
        route: CommandRoute,
        principal: Principal,
        target: str | None,
        command: BaseModel,
        ctx: RequestContext,
        pending: "_Accepting",
    ) -> None:
        deadline = time.monotonic() + self._retry_for
        delay = 0.1
        while True:
            try:
                with answering(pending):
                    await route.run(principal, target, command, ctx)
                return
            except DomainError as exc:
                if exc.rule in TRANSIENT and time.monotonic() + delay < deadline:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                raise _refusal(exc) from exc
            except Forbidden as exc:
                raise _refusal(exc) from exc

    async def _invalid_envelope(
        self, agency: str, raw: dict[str, Any], exc: ValidationError, started: float
    ) -> None:
        command_id, kind = raw.get("id"), raw.get("type")
        answerable = isinstance(command_id, str) and 0 < len(command_id) <= 64
        ours = kind in {k.value for k in self._routes} or (
            self._rejects_unknown and kind not in set(CommandType)
        )
        if not (answerable and ours):
            if answerable and kind in set(CommandType):
                return  # another service's command: it answers
            raise PoisonCommand(f"invalid command envelope: {validation_issues(exc)}")
        assert isinstance(command_id, str)
        refused = Refused(RuleCode.INVALID_REQUEST, "the command envelope is not valid",
                          issues(exc, ()))  # fmt: skip
        await self._reject(agency, command_id, str(kind or ""), None, refused)
        outcome = refused_outcome(refused)
        await audit_command(self._audit, agency, command_id, str(kind or "unknown"), outcome)
        known = CommandType(kind) if isinstance(kind, str) and kind in set(CommandType) else None
        self._observe(known, outcome, started)

    async def _reject(
        self,
        agency: str,
        command_id: str,
        kind: str,
        envelope: CommandEnvelope | None,
        refused: Refused,
        remember: tuple[str, str] | None = None,
    ) -> None:
        reply = self._rejection(command_id, kind, envelope, refused)
        async with self._sessions() as session, session.begin():
            if remember is not None:
                caller, digest = remember
                answer = Answer(digest, RULES[refused.rule].status, reply.model_dump_json())
                await self._answers.insert(session, caller, command_id, answer, ttl=None)
            await self._queue(session, agency, reply)
        self._on_commit()

    def _rejection(
        self, command_id: str, kind: str, envelope: CommandEnvelope | None, refused: Refused
    ) -> CommandReply:
        """The `CommandRejected` reply to a command."""
        return new_reply(
            source=self._source,
            data=CommandRejected(
                command_id=command_id,
                command_type=kind,
                rule=refused.rule,
                message=refused.message,
                errors=refused.errors,
            ),
            correlation_id=(envelope.correlationid if envelope else None) or command_id,
            now=dt.datetime.now(dt.UTC),
            reply_id=uuid4(),
        )

    async def _queue(
        self, session: AsyncSession, agency: str, reply: CommandReply, payload: str | None = None
    ) -> None:
        """Queue `reply` (rendered as `payload` when the caller has it already) in the outbox."""
        await session.execute(insert_of(self._outbox), self._reply_row(agency, reply, payload))

    def _reply_row(
        self, agency: str, reply: CommandReply, payload: str | None = None
    ) -> dict[str, object]:
        """The outbox row of `reply`, to the agency's replies topic."""
        return {
            "event_id": str(reply.id),
            "topic": replies_topic(agency, self._prefix),
            "key": reply.subject,
            "payload": payload if payload is not None else reply.model_dump_json(),
            "created_at": dt.datetime.now(dt.UTC),
        }


def _since(started: float) -> float:
    return time.monotonic() - started


def _refusal(exc: DomainError | Forbidden | Refused) -> Refused:
    """What the agency is told about a command its handler refused."""
    if isinstance(exc, DomainError):
        return Refused(exc.rule, exc.detail)
    if isinstance(exc, Forbidden):
        return Refused(RuleCode.FORBIDDEN, str(exc))
    return exc


@dataclass(frozen=True)
class _InRun:
    """One command of a shared transaction (`handle_many`), with its request digest."""

    shared: SharedTransaction
    agency: str
    caller: str
    kind: CommandType
    envelope: CommandEnvelope
    digest: str


class _Declined(Exception):
    """The `at`-th command of a shared transaction was not accepted at once: all rolled back."""

    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


def _before(
    batch: list[tuple[int, CommandType, CommandEnvelope]],
    limit: int,
    stop: Callable[[CommandEnvelope], bool],
) -> tuple[list[tuple[int, CommandType, CommandEnvelope]], int]:
    """`batch` and `limit` cut before the first command for which `stop` holds."""
    for at, (i, _, envelope) in enumerate(batch):
        if stop(envelope):
            return batch[:at], i
    return batch, limit


class _Accepting:
    """The accepted reply, written by the transaction that commits the command's events."""

    def __init__(
        self,
        processor: CommandProcessor,
        agency: str,
        kind: CommandType,
        envelope: CommandEnvelope,
        caller: str,
        digest: str,
    ) -> None:
        self._p = processor
        self._agency = agency
        self._kind = kind
        self._envelope = envelope
        self._caller = caller
        self._digest = digest
        self.target: str | None = None
        self.reply: CommandReply | None = None
        self.audited = False
        """The command's audit entry was written with its reply."""
        self.inserts: Inserts | None = None
        """A shared transaction's (`handle_many`): the rows go through it, held back."""

    def applies_to(self, sessions: async_sessionmaker[AsyncSession]) -> bool:
        return self.reply is None and sessions is self._p._sessions

    async def write(
        self,
        session: AsyncSession,
        result: BaseModel | None,
        events: Sequence[CloudEvent],
        inserts: Inserts | None = None,
    ) -> None:
        data: ReplyData = CommandAccepted(
            command_id=self._envelope.id,
            command_type=self._kind.value,
            record_id=events[0].subject if events else self.target,
            event_ids=[e.id for e in events],
        )
        reply = new_reply(
            source=self._p._source,
            data=data,
            correlation_id=self._envelope.correlationid or self._envelope.id,
            now=dt.datetime.now(dt.UTC),
            reply_id=uuid4(),
        )
        payload = reply.model_dump_json()
        answer = Answer(self._digest, ACCEPTED_STATUS, payload)
        answers, key = self._p._answers, self._envelope.id
        if self.inserts is not None:  # a fetch's shared transaction: no answer there yet
            await answers.insert_new(self.inserts, session, self._caller, key, answer)
            await self.inserts.rows(
                self._p._outbox, [self._p._reply_row(self._agency, reply, payload)]
            )
        else:
            await answers.insert(session, self._caller, key, answer, ttl=None)
            await self._p._queue(session, self._agency, reply, payload)
        table = self._p._audit_table()
        if table is not None:  # the entry commits with the command and its reply
            accepted = Handled(
                Outcome.ACCEPTED, None, records_of(self._envelope, self._kind, reply)
            )
            entry = command_entry(self._agency, str(self._envelope.id), self._kind.value, accepted)
            await commit_entry(self.inserts or Inserts(session), table, entry)
            self.audited = True
        self.reply = reply
