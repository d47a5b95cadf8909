"""A command's audit entry in the command's own transaction, forwarded to the audit store.

The audit store is one database per deployment (`shared.infra.audit`). Writing a command's
entry there after the command committed left a window: a process killed between the two
commits kept the command and lost its entry, and every command paid a second transaction on
a second database. Now the entrypoint (`shared.http.audit.AuditMiddleware`) hands the entry
it will write to the unit of work (`auditing`), which writes it into the service's own
`audit_outbox` table in the command's transaction (`write_pending_audit`): the command and
its entry commit together or not at all. `AuditForwarder` then moves the rows to the audit
store in batches, each under its `entry_id`, unique in the store: a forwarder stopped between
the store's commit and the row's deletion forwards the row again, and the store keeps it once.

A command over Kafka commits its entry with its reply the same way (`commit_entry`, from
`shared.infra.commands`). Refusals, replays and failures change nothing in the service's
database and are still written straight to the store.
"""

import asyncio
import contextlib
import datetime as dt
import json
import logging
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.infra.audit import AuditLog, ForwardedEntry
from shared.infra.audit_entries import AuditRecord, Category, Channel, Outcome
from shared.infra.db import unavailable
from shared.infra.fast_insert import Inserts
from shared.infra.outbox import woken

log = logging.getLogger(__name__)

BATCH = 500
"""Rows moved per transaction of the store."""
REQUEST_BATCHES = 4
"""Batches a read or a direct write forwards before it goes on (`forward_if_dirty`)."""
STOP_WAIT = 10.0
"""Seconds `stop` waits for the pass under way before cancelling it."""


_NAMES = tuple(f.name for f in fields(AuditRecord))
_FIELDS = frozenset(_NAMES)


def _entry_json(entry: AuditRecord) -> str:
    """The entry's fields as JSON, read directly: the entry is flat, and `asdict`'s recursive
    deep copy (15 calls and 12 `deepcopy`s per entry) was nearly all of this function's time on
    every command's path."""
    return json.dumps({name: getattr(entry, name) for name in _NAMES}, separators=(",", ":"))


def _entry_of(raw: str) -> AuditRecord:
    """The entry as committed; fields a later release added are left out (a rolling
    deployment: an older replica may forward a newer one's rows)."""
    data: dict[str, Any] = {k: v for k, v in json.loads(raw).items() if k in _FIELDS}
    return AuditRecord(
        **data
        | {
            "channel": Channel(data["channel"]),
            "category": Category(data["category"]),
            "outcome": Outcome(data["outcome"]),
            "records": tuple((kind, record) for kind, record in data["records"]),
        }
    )


@dataclass
class PendingAudit:
    """The entry a request will be audited with once its command commits."""

    build: Callable[[BaseModel | None], AuditRecord]
    """The entry, from the command's answer (the ids it names)."""
    task: "asyncio.Task[Any] | None" = field(default_factory=asyncio.current_task)
    """The request's task: a task it started (a relay woken, say) inherits the context but
    does not run the request's command."""
    committed: bool = False
    """Set once a unit of work committed the entry: the middleware then writes nothing."""


_PENDING: ContextVar[PendingAudit | None] = ContextVar("pending_audit", default=None)


@contextlib.contextmanager
def auditing(pending: PendingAudit) -> Iterator[PendingAudit]:
    """Serve a request whose command, if it commits, commits its audit entry with it."""
    token = _PENDING.set(pending)
    try:
        yield pending
    finally:
        _PENDING.reset(token)


async def write_pending_audit(
    inserts: Inserts, table: Table | None, answer: BaseModel | None
) -> PendingAudit | None:
    """Called by `SqlUnitOfWork.commit` before it commits: writes the request's entry in this
    transaction; the caller marks it `committed` once the commit succeeded."""
    pending = _PENDING.get()
    if (
        table is None
        or pending is None
        or pending.committed
        or pending.task is not asyncio.current_task()
    ):
        return None
    await commit_entry(inserts, table, pending.build(answer))
    return pending


async def commit_entry(inserts: Inserts, table: Table, entry: AuditRecord) -> None:
    """Write `entry` into the service's `audit_outbox` in the transaction of `inserts` (an
    HTTP request's, through `write_pending_audit`; a command's over Kafka, with its reply)."""
    row = {
        "entry_id": str(uuid.uuid4()),
        "occurred_at": dt.datetime.now(dt.UTC),
        "entry": _entry_json(entry),
    }
    await inserts.rows(table, [row])


class AuditForwarder:
    """Moves one service's `audit_outbox` rows to the audit store, woken by commits that wrote
    one (with a slow poll as a safety net, and one pass before every read of the store)."""

    def __init__(
        self,
        name: str,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        audit: AuditLog,
        *,
        poll_interval: float = 5.0,
        linger: float = 0.05,
        max_backoff: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._t = table
        self._audit = audit
        self._poll = poll_interval
        self.linger = linger
        """Seconds to wait after a wake-up, so the entries of that moment leave together."""
        self._max_backoff = max_backoff
        self._lock_key = zlib.crc32(f"audit-outbox:{name}".encode())
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_signal = asyncio.Event()
        self._turn = asyncio.Lock()
        self.dirty = True
        """A commit of this process may have written an entry not yet forwarded (True at
        start: rows left by an earlier run). Reads and direct writes of the store forward
        first only then, so that a flood of refusals or reads costs the service's database
        nothing."""
        self.forwarded = 0

    def wake(self) -> None:
        """A commit wrote an entry."""
        self.dirty = True
        self._wake.set()

    def start(self) -> None:
        """Forward in the background; the store reads what is waiting before it answers."""
        self._audit.add_source(self.forward_if_dirty)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-forwarder")

    async def stop(self) -> None:
        """Stop, forwarding what is waiting first when the store can take it."""
        self._audit.remove_source(self.forward_if_dirty)
        task, self._task = self._task, None
        if task is not None:
            # A flag and a wake-up rather than a cancellation: on Python 3.11 a cancellation
            # arriving as `asyncio.timeout` expires can come out as a TimeoutError, which the
            # loop takes for its poll, and it would wait on forever.
            self._stopping = True
            self._stop_signal.set()
            self._wake.set()
            done, _ = await asyncio.wait([task], timeout=STOP_WAIT)
            self._stopping = False
            self._stop_signal.clear()
            if not done:  # a pass stuck on an unreachable database: the rows stay
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return
        try:
            async with asyncio.timeout(STOP_WAIT):
                await self.forward()
        except Exception:  # the rows stay and the next start forwards them
            log.warning("audit: entries left to forward at the next start", exc_info=True)

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            self._wake.clear()
            try:
                await self.forward()
                backoff = 0.1
            except Exception:  # the rows stay; tried again after a pause
                log.warning(
                    "audit: cannot forward entries; retrying in %.1fs", backoff, exc_info=True
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff):
                        await self._stop_signal.wait()  # not commits: `stop` ends it early
                backoff = min(backoff * 2, self._max_backoff)
                continue
            if not self._stopping:
                await woken(self._wake, self._poll, self.linger)

    async def forward(self, *, most: int | None = None) -> int:
        """Move the rows waiting now to the store (at most `most` batches); returns how many
        were moved."""
        total, batches = 0, 0
        async with self._turn:  # one pass at a time in this process
            self.dirty = False  # a commit from now on sets it again
            while True:
                try:
                    moved = await self._forward_batch()
                except BaseException:
                    self.dirty = True
                    raise
                total, batches = total + moved, batches + 1
                if moved < BATCH or (most is not None and batches >= most):
                    self.dirty = self.dirty or moved == BATCH
                    self.forwarded += total
                    return total

    async def forward_if_dirty(self) -> int:
        """Before a read or a direct write of the store: forward what this process committed,
        if anything, a few batches at most (after an outage the background pass drains the
        rest; a request does not wait for all of it)."""
        return await self.forward(most=REQUEST_BATCHES) if self.dirty else 0

    async def _forward_batch(self) -> int:
        t = self._t
        async with self._sessions() as session:
            await session.begin()
            on_postgres = session.bind.dialect.name == "postgresql"
            if on_postgres and not await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": self._lock_key}
            ):
                return 0  # another replica is forwarding this service's entries
            rows = (
                await session.execute(
                    select(t.c.position, t.c.entry_id, t.c.occurred_at, t.c.entry)
                    .order_by(t.c.position)
                    .limit(BATCH)
                )
            ).all()
            if not on_postgres:
                await session.commit()  # SQLite: let writers in while the store is written
            if not rows:
                return 0
            entries = []
            for r in rows:
                try:
                    entries.append(ForwardedEntry(r.entry_id, _entry_of(r.entry), r.occurred_at))
                except (ValueError, TypeError, KeyError):
                    log.error("audit: entry %s cannot be read; dropped", r.entry_id)
            try:
                await self._audit.append_forwarded(entries)
            except Exception as exc:
                if unavailable(exc) or len(entries) <= 1:
                    raise
                await self._one_by_one(entries)  # one entry refused must not stop the others
            if not session.in_transaction():
                await session.begin()
            await session.execute(delete(t).where(t.c.position.in_([r.position for r in rows])))
            await session.commit()
        return len(rows)

    async def _one_by_one(self, entries: list[ForwardedEntry]) -> None:
        """Each entry of a batch the store refused, alone; one it refuses by itself is logged
        (its id and action, nothing personal) and dropped, as a direct write's would be."""
        for entry in entries:
            try:
                await self._audit.append_forwarded([entry])
            except Exception as exc:
                if unavailable(exc):
                    raise
                log.error(
                    "audit: the store refused entry %s (%s); dropped",
                    entry.entry_id,
                    entry.entry.action,
                    exc_info=True,
                )

    async def backlog(self) -> tuple[int, dt.datetime | None]:
        """Entries not yet in the store and when the oldest was committed (for `/metrics`:
        one query per scrape, never on a command's path)."""
        t = self._t
        async with self._sessions() as session:
            row = (await session.execute(select(func.count(), func.min(t.c.occurred_at)))).one()
        return int(row[0] or 0), row[1]
