"""Group commit of the commands whose rows go as one statement of their own (PostgreSQL).

A new need's rows, its remembered answer and its audit entry go in one statement without a
transaction around it (`Inserts.flush_alone`). Each such statement costs the process about
0.3 ms of CPU whatever it carries (SQLAlchemy, asyncpg, TLS, the socket's `send`), and the
server a commit of its own: with `synchronous_commit=on`, a WAL flush each
(docs/performance.md, "Commands").

Here the statements of concurrent commands share: while `IN_FLIGHT` statements are on their
way, the commands that arrive wait, and the next statement carries all of them
(`held_sql.grouped`, one `pg_notify` for all). A command arriving when fewer are in flight
goes at once, alone: a single client waits for nothing. A command's answer is sent only once
the statement carrying its rows committed, as before.

A statement is all or nothing. When the server refuses a grouped one for what a row says (a
guarded insert that wrote nothing, a constraint, two answers under one key: SQLSTATE classes
21, 22, 23, and 40 but for 40003), nothing of it was written, and each command's rows go again
alone, so each command gets its own answer: the one refused, the others written. Any other
failure (the connection lost, the server gone, 40003 "statement completion unknown") leaves
the outcome unknown; every command of the statement gets that error, as it would have alone,
and none is tried again.

The grouped statement's SQL span (tracing) is in the trace of the command that started it.
"""

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.infra.held_sql import GROUPED_ROWS, Guarded, Held, grouped, rows_of

IN_FLIGHT = 2
"""Statements of one engine's commands on their way at once; more commands wait for one."""

RETRIED_ALONE = ("21", "22", "23", "40")
"""SQLSTATE classes of a grouped statement's failure that its rows caused: none was written.

Class 40 is a rollback (serialization failure, deadlock, a deferred constraint at commit);
its one code that does not say so, 40003, is excluded by `nothing_written`."""

OUTCOME_UNKNOWN = "40003"
"""statement_completion_unknown: the statement may have committed; never tried again."""


@dataclass
class _Waiting:
    """One command's statement (as it would go alone) and the rows it carries."""

    statement: Any
    params: Mapping[str, Any]
    held: Held
    guarded: Guarded | None
    notify: str | None
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit:
    """The statements of one engine's commands that go alone, grouped when they meet."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[_Waiting] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(
        self,
        statement: Any,
        params: Mapping[str, Any],
        held: Held,
        guarded: Guarded | None,
        notify: str | None,
    ) -> None:
        """Write one command's rows (`statement` as it would run alone); return once they
        committed, raise what its own statement would have raised."""
        waiting = _Waiting(statement, params, held, guarded, notify)
        self._waiting.append(waiting)
        if self._in_flight < IN_FLIGHT:
            self._start()
        await waiting.done

    def _start(self) -> None:
        batch, self._waiting = self._waiting, []
        self._in_flight += 1
        # A task of its own: a command cancelled while waiting does not cancel the others'.
        task = asyncio.create_task(self._run(batch), name="group-commit")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Waiting]) -> None:
        notify = next((w.notify for w in batch if w.notify is not None), None)
        try:
            await self._write(batch, notify)
        except BaseException as exc:  # cancelled half-way: no command is left waiting
            _fail(batch, exc)
            raise
        finally:
            self._in_flight -= 1
            if self._waiting:
                self._start()

    async def _write(self, batch: list[_Waiting], notify: str | None) -> None:
        members = [(w.held, w.guarded) for w in batch]
        if len(batch) == 1 or rows_of(members) > GROUPED_ROWS:
            for w in batch:
                await self._alone(w)
            return
        statement, params = grouped(members, self._engine.dialect, notify)
        try:
            await self._execute(statement, params)
        except DBAPIError as exc:
            if not nothing_written(_sqlstate(exc)):
                _fail(batch, exc)
                return
            for w in batch:  # nothing was written: each command's own answer
                await self._alone(w)
            return
        except BaseException as exc:  # the outcome unknown: each command is told
            _fail(batch, exc)
            if not isinstance(exc, Exception):
                raise  # cancelled (the loop closing)
            return
        for w in batch:
            if not w.done.done():
                w.done.set_result(None)

    async def _alone(self, w: _Waiting) -> None:
        try:
            await self._execute(w.statement, w.params)
        except BaseException as exc:
            if not w.done.done():
                w.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not w.done.done():
                w.done.set_result(None)

    async def _execute(self, statement: Any, params: Mapping[str, Any]) -> None:
        async with self._engine.connect() as conn:
            alone = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await alone.execute(statement, params)


def _sqlstate(exc: DBAPIError) -> str:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def nothing_written(sqlstate: str) -> bool:
    """Whether a refused grouped statement's SQLSTATE says that none of its rows was written."""
    return sqlstate[:2] in RETRIED_ALONE and sqlstate != OUTCOME_UNKNOWN


def _fail(batch: list[_Waiting], exc: BaseException) -> None:
    for w in batch:
        if not w.done.done():
            w.done.set_exception(exc)


_GROUPS: "weakref.WeakKeyDictionary[AsyncEngine, GroupCommit]" = weakref.WeakKeyDictionary()


def group_commit(engine: AsyncEngine) -> GroupCommit:
    """The engine's group commit (one per engine, made on first use)."""
    group = _GROUPS.get(engine)
    if group is None:
        group = _GROUPS[engine] = GroupCommit(engine)
    return group
