"""Remembered answers to commands, by caller and key: HTTP `Idempotency-Key`s and the ids of
commands sent over Kafka. A retry finds the first answer instead of running the command again.

The row is written inside the transaction that commits the command's events: the entrypoint
registers a `PendingAnswer` for the request or message it serves (`answering`), and
`SqlUnitOfWork.commit` hands it the command's result and events just before committing. So a
command is never applied without its answer being remembered, and never remembered without
being applied. Two requests racing with one key both run, but only one can insert the
(caller, key) row: the other's transaction fails on the primary key (`AnswerExists`), its
events roll back, and its caller gets the winner's answer.

HTTP answers expire after `HTTP_ANSWER_TTL` (24 h); answers to Kafka commands never do (a
consumer group may re-read its topic at any time). A service whose answers carry personal
data passes an `AnswerProtection`: bodies are sealed as they are stored and opened as they are
found (the placement service seals officials' identities with their own keys, so an erasure
reaches remembered answers too).
"""

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import TextClause

from shared.contract.envelope import CloudEvent
from shared.infra.fast_insert import HELD_ROWS_WAIT, Inserts
from shared.infra.held_sql import Guarded

HTTP_ANSWER_TTL = dt.timedelta(hours=24)
"""How long a retry with the same `Idempotency-Key` gets the first answer."""

PURGE_EVERY = dt.timedelta(hours=1)


def define_command_answers(metadata: MetaData) -> Table:
    """Declare the `command_answers` table on a service's metadata (migration 0003)."""
    return Table(
        "command_answers",
        metadata,
        Column("caller", String(200), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("request_sha256", String(64), nullable=False),
        Column("status", Integer, nullable=False),
        Column("answer", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=True),
        Index("ix_command_answers_expires_at", "expires_at"),
    )


def request_digest(*parts: bytes | str) -> str:
    """SHA-256 of a request's parts; a JSON part is canonicalised (key order, spacing)."""
    h = hashlib.sha256()
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        with contextlib.suppress(ValueError):
            raw = json.dumps(
                json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
        h.update(len(raw).to_bytes(8, "big") + raw)
    return h.hexdigest()


def answer_json(answer: BaseModel) -> str:
    """The JSON of a result as FastAPI renders a `response_model` (by alias, every field):
    pydantic's `dump_json`, byte for byte, so that the answer sent is usually the one stored."""
    return answer.model_dump_json(by_alias=True)


@dataclass(frozen=True)
class Answer:
    """What was answered to the first request with a key."""

    request_sha256: str
    status: int
    body: str | None
    """JSON text; None only while an HTTP answer without a result model is being sent."""

    def json(self) -> Any:
        """The body parsed."""
        return None if self.body is None else json.loads(self.body)


class AnswerExists(Exception):
    """Another request with this key committed first: its answer is the answer."""

    def __init__(self, caller: str, key: str) -> None:
        super().__init__(f"{caller} already used key {key}")
        self.caller = caller
        self.key = key


class AnswerProtection(Protocol):
    """Seals what must not be stored in clear in an answer body, and opens it again."""

    async def seal(self, session: AsyncSession, body: str) -> str:
        """The body as it may be stored (in `session`'s transaction)."""

    async def open(self, session: AsyncSession, body: str) -> str:
        """The body as it was answered (or with what can no longer be opened left out)."""


_WRITTEN = ("request_sha256", "status", "answer", "created_at", "expires_at")


def _unless_live(t: Table, now: str) -> str:
    """The conflict clause: overwrite a row under the same (caller, key) only if it expired."""
    return (
        f'ON CONFLICT (caller, "key") DO UPDATE SET '
        f"{', '.join(f'{c} = excluded.{c}' for c in _WRITTEN)} "
        f"WHERE {t.name}.expires_at IS NOT NULL AND {t.name}.expires_at <= :{now}"
    )


def _insert_unless_live(t: Table) -> TextClause:
    """INSERT, or overwrite the row under the same (caller, key) if it has expired; a live row
    is left as it is (no row changed). The same SQL on PostgreSQL and SQLite; as text because
    SQLAlchemy's dialect-specific upsert has no cache key and would be compiled every time."""
    columns = ("caller", "key", *_WRITTEN)
    sql = (
        f"INSERT INTO {t.name} ({', '.join(f'{quoted(c)}' for c in columns)}) "
        f"VALUES ({', '.join(f':{c}' for c in columns)}) {_unless_live(t, 'b_now')}"
    )
    return text(sql).bindparams(
        *(bindparam(c, type_=t.c[c].type) for c in columns),
        bindparam("b_now", type_=t.c.expires_at.type),
    )


def quoted(column: str) -> str:
    """`key` is a keyword in some SQL dialects."""
    return '"key"' if column == "key" else column


class CommandAnswers:
    """One service's remembered answers (in its own database)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        protection: AnswerProtection | None = None,
    ) -> None:
        self.sessions = sessions
        self._t = table
        self._protection = protection
        self._purged_at: dt.datetime | None = None
        t = table
        # Built once (SQLAlchemy then reuses their compiled form): they run for every command.
        self._find = select(t.c.request_sha256, t.c.status, t.c.answer).where(
            t.c.caller == bindparam("b_caller"),
            t.c.key == bindparam("b_key"),
            or_(t.c.expires_at.is_(None), t.c.expires_at > bindparam("b_now")),
        )
        self._insert = _insert_unless_live(t)
        self._guard_clause = _unless_live(t, "g_now")

    async def _sealed(self, session: AsyncSession, body: str | None) -> str | None:
        if body is None or self._protection is None:
            return body
        return await self._protection.seal(session, body)

    async def find(self, caller: str, key: str, now: dt.datetime | None = None) -> Answer | None:
        """The unexpired answer to (caller, key), if any."""
        now = now or dt.datetime.now(dt.UTC)
        async with self.sessions() as session:
            row = (
                await session.execute(self._find, {"b_caller": caller, "b_key": key, "b_now": now})
            ).first()
            if row is None:
                return None
            body = row.answer
            if body is not None and self._protection is not None:
                body = await self._protection.open(session, body)
        return Answer(row.request_sha256, row.status, body)

    async def answered(
        self, caller: str, keys: Sequence[str], now: dt.datetime | None = None
    ) -> set[str]:
        """Which of `keys` already have an unexpired answer for `caller` (one statement)."""
        now = now or dt.datetime.now(dt.UTC)
        t = self._t
        async with self.sessions() as session:
            rows = await session.execute(
                select(t.c.key).where(
                    t.c.caller == caller,
                    t.c.key.in_(keys),
                    or_(t.c.expires_at.is_(None), t.c.expires_at > now),
                )
            )
            return {str(key) for key in rows.scalars()}

    async def insert(
        self,
        session: AsyncSession,
        caller: str,
        key: str,
        answer: Answer,
        *,
        ttl: dt.timedelta | None,
        now: dt.datetime | None = None,
        inserts: Inserts | None = None,
    ) -> None:
        """Remember the answer in the caller's transaction; AnswerExists if already there.

        An expired answer under the same key is replaced (one statement: an insert that
        overwrites only an expired row). Given the transaction's `inserts` where they can
        guard it (PostgreSQL), the insert goes with its held rows, in their statement, and
        AnswerExists is raised then (`fast_insert.Guarded`): a round trip fewer.
        """
        now = now or dt.datetime.now(dt.UTC)
        row = await self._row(session, caller, key, answer, now, ttl)
        if inserts is not None and inserts.can_guard():
            conflict = self._guard_clause
            inserts.guard(
                Guarded(self._t, row, conflict, {"g_now": now}, lambda: AnswerExists(caller, key))
            )
            return
        try:
            written = await session.execute(
                # It reads none of the rows a command's transaction holds back (`fast_insert`):
                # they may go after it, with the commit, in one statement.
                self._insert,
                {**row, "b_now": now},
                execution_options={HELD_ROWS_WAIT: True},
            )
        except IntegrityError as exc:
            raise AnswerExists(caller, key) from exc
        if getattr(written, "rowcount", 1) == 0:  # a live answer is there: nothing written
            raise AnswerExists(caller, key)

    async def insert_new(
        self,
        inserts: Inserts,
        session: AsyncSession,
        caller: str,
        key: str,
        answer: Answer,
        now: dt.datetime | None = None,
    ) -> None:
        """Remember, through `inserts` (held back in a shared transaction), the answer to a key
        known to have none (`answered`); losing a race for it to another consumer fails that
        transaction at its next statement or commit instead of raising AnswerExists here."""
        now = now or dt.datetime.now(dt.UTC)
        await inserts.rows(self._t, [await self._row(session, caller, key, answer, now, None)])

    async def _row(
        self,
        session: AsyncSession,
        caller: str,
        key: str,
        answer: Answer,
        now: dt.datetime,
        ttl: dt.timedelta | None,
    ) -> dict[str, object]:
        """The stored row of an answer (its body sealed when answers are protected)."""
        return {
            "caller": caller,
            "key": key,
            "request_sha256": answer.request_sha256,
            "status": answer.status,
            "answer": await self._sealed(session, answer.body),
            "created_at": now,
            "expires_at": None if ttl is None else now + ttl,
        }

    async def remember(
        self, caller: str, key: str, answer: Answer, *, ttl: dt.timedelta | None
    ) -> bool:
        """Remember an answer in a transaction of its own; False when one was already there."""
        try:
            async with self.sessions() as session, session.begin():
                await self.insert(session, caller, key, answer, ttl=ttl)
        except AnswerExists:
            return False
        return True

    async def complete(self, caller: str, key: str, status: int, body: str) -> None:
        """Record the answer exactly as it was sent (the transaction wrote the result)."""
        t = self._t
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(t)
                .where(t.c.caller == caller, t.c.key == key)
                .values(status=status, answer=await self._sealed(session, body))
            )

    async def purge_expired(self, now: dt.datetime | None = None) -> int:
        """Delete expired answers; returns how many."""
        now = now or dt.datetime.now(dt.UTC)
        t = self._t
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                delete(t).where(t.c.expires_at.is_not(None), t.c.expires_at <= now)
            )
        self._purged_at = now
        return int(getattr(result, "rowcount", 0) or 0)

    async def purge_if_due(self) -> None:
        """Purge at most once per `PURGE_EVERY` (housekeeping; expired rows are ignored)."""
        now = dt.datetime.now(dt.UTC)
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            await self.purge_expired(now)


class PendingAnswer(Protocol):
    """What an entrypoint remembers with the command it is running."""

    def applies_to(self, sessions: async_sessionmaker[AsyncSession]) -> bool:
        """True for the unit of work of the service it answers for, until written."""

    async def write(
        self,
        session: AsyncSession,
        result: BaseModel | None,
        events: Sequence[CloudEvent],
        inserts: Inserts | None = None,
    ) -> None:
        """Write the answer (and anything else that must commit with it) in `session`,
        through the transaction's `inserts` where given."""


_PENDING: ContextVar[PendingAnswer | None] = ContextVar("pending_answer", default=None)


@contextlib.contextmanager
def answering(pending: PendingAnswer) -> Iterator[None]:
    """Run a command with its answer pending: the committing unit of work writes it."""
    token = _PENDING.set(pending)
    try:
        yield
    finally:
        _PENDING.reset(token)


async def write_pending_answer(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    result: BaseModel | None,
    events: Sequence[CloudEvent],
    inserts: Inserts | None = None,
) -> bool:
    """Called by `SqlUnitOfWork.commit` just before it commits; True if it wrote an answer."""
    pending = _PENDING.get()
    if pending is not None and pending.applies_to(sessions):
        await pending.write(session, result, events, inserts)
        return True
    return False
