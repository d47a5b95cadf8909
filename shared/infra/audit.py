"""The audit log: who (agency, subject) did what (action) to which records (ids), and with what
outcome (accepted, or refused with its rule code).

One store per deployment, shared by every service: its own database (`AUDIT_DATABASE_URL`
of each service's settings, `var/audit.db` in the embedded default), its own engine and its
own Alembic history (`audit_migrations/`, version table `alembic_version_audit`), migrated by
whichever service starts first under a PostgreSQL advisory lock. A dedicated history rather
than create-if-missing: three services of possibly different releases share the store, and its
schema (columns, indexes, the append-only triggers) must evolve in one ordered, recorded way.

Append-only is enforced by the database, not only by this code: triggers raise on every
UPDATE, DELETE (and, on PostgreSQL, TRUNCATE) of its tables. Entries hold ids, codes and
route templates only, never personal values (names, birth dates, request bodies).

What an entry says is `audit_entries.py`; the tables, `audit_tables.py`.
"""

import asyncio
import contextlib
import datetime as dt
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic_settings import BaseSettings
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.infra.audit_entries import MAX_RECORDS, RECORD_ID, AuditEntry, AuditRecord, RecordRef
from shared.infra.audit_tables import audit_log, audit_records
from shared.infra.db import make_engine, make_sessions
from shared.infra.migrations import upgrade_when_reachable

log = logging.getLogger(__name__)

AUDIT_MIGRATIONS = Path(__file__).parent / "audit_migrations"
VERSION_TABLE = "alembic_version_audit"
MIGRATION_LOCK = zlib.crc32(b"migrate:audit")


@dataclass
class _Window:
    """Unauthenticated refusals of one kind since the first of them was written."""

    started: float
    entry: AuditRecord
    more: int = 0


INSERT_ENTRIES = insert(audit_log).returning(audit_log.c.position, sort_by_parameter_order=True)
"""A batch's entries in one statement on PostgreSQL (SQLAlchemy's "insertmanyvalues", up to
1,000 rows a page; on SQLite, which has no ordering key for it, one INSERT per row within one
execution), their positions returned in the batch's order. A forwarded batch of hundreds of
entries was a round trip per entry (docs/performance.md)."""
INSERT_RECORDS = insert(audit_records)
"""Built once: SQLAlchemy then reuses their compiled form (and cache key) for every batch."""

_Waiting = tuple[AuditRecord, dt.datetime, "asyncio.Future[int]"]
"""An entry, its time, and the caller waiting for its position."""


@dataclass(frozen=True)
class ForwardedEntry:
    """An entry a service committed with its command (`shared.infra.audit_outbox`)."""

    entry_id: str
    """Unique in the store: forwarded twice, kept once."""
    entry: AuditRecord
    occurred_at: dt.datetime


def _resolve(future: "asyncio.Future[int]", position: int) -> None:
    if not future.done():
        future.set_result(position)


def _fail(future: "asyncio.Future[int]", exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)


def _fit(value: str | None, size: int) -> str | None:
    """A value cut to its column's size: a token's overlong subject must not cost the entry
    (PostgreSQL refuses the row; SQLite would keep it whole)."""
    return value if value is None or len(value) <= size else value[: size - 1] + "…"


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class AuditLog:
    """The deployment's audit store; created once per process, started by the app."""

    def __init__(
        self,
        database_url: str,
        *,
        refusal_window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database_url = database_url
        self.engine = make_engine(database_url, pool_size=4)
        self._sessions = make_sessions(self.engine)
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        self.started = False
        """True between `start` and `stop` (an app built but never started audits nothing)."""
        self._window = refusal_window
        self._clock = clock
        self._counting: dict[tuple[object, ...], _Window] = {}
        self._counting_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._sources: list[Callable[[], Awaitable[int]]] = []

    def add_source(self, forward: Callable[[], Awaitable[int]]) -> None:
        """A service's forwarder of committed entries: run before every read, so that a
        command's entry is in what the same process reads right after it."""
        self._sources.append(forward)

    @property
    def forwarded_from_services(self) -> bool:
        """True while a service of this process commits its commands' entries itself
        (`shared.infra.audit_outbox`)."""
        return bool(self._sources)

    async def forward_committed(self) -> None:
        """Bring in the entries this process's services committed with their commands: before
        a read (it sees them) and before an entry written here directly (the log keeps the
        order in which things happened). A forwarder that fails leaves them for later."""
        for forward in list(self._sources):
            try:
                await forward()
            except Exception:  # the read or write goes on; the forwarder retries
                log.warning("audit: could not forward committed entries", exc_info=True)

    def remove_source(self, forward: Callable[[], Awaitable[int]]) -> None:
        """The forwarder stopped."""
        with contextlib.suppress(ValueError):
            self._sources.remove(forward)

    async def start(self) -> None:
        """Create or migrate the store (idempotent; serialised across services), then write
        counted refusals as their windows end (`_flush_while_running`)."""
        await upgrade_when_reachable(
            self.engine, AUDIT_MIGRATIONS, VERSION_TABLE, lock_key=MIGRATION_LOCK, name="audit"
        )
        self.started = True
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_while_running())

    async def stop(self) -> None:
        """Write the refusals still being counted and the entries waiting, then close the
        connections."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        try:
            async with self._counting_lock:
                await self._flush(everything=True)
            writer = self._writer
            if (
                writer is not None
                and not writer.done()
                and writer.get_loop() is asyncio.get_running_loop()
            ):
                await asyncio.wait([writer])
        finally:
            self.started = False
            await self.engine.dispose()

    async def _flush_while_running(self) -> None:
        """Every window, write the counts of the windows that ended: a flood that stops is in
        the log a window or two later, not only at the next anonymous refusal or at a clean
        stop (a crash would lose what is still being counted)."""
        while True:
            await asyncio.sleep(self._window)
            try:
                async with self._counting_lock:
                    await self._flush()
            except Exception:
                log.exception("could not write the counted unauthenticated refusals")

    async def record_unauthenticated(self, entry: AuditRecord) -> None:
        """A refusal of a caller with no valid token: the first of its kind (action, route,
        status, rule) in a window is written at once, the rest of the window are counted
        and written as one entry (`count`) when the window is over — so a flood of anonymous
        requests writes a few rows a minute, not one each, and still adds up."""
        kind = (entry.channel, entry.action, entry.route, entry.status, entry.rule)
        async with self._counting_lock:
            await self._flush()
            window = self._counting.get(kind)
            if window is not None:
                window.more += 1
                return
            self._counting[kind] = _Window(self._clock(), entry)
        await self.record(entry)

    async def _flush(self, *, everything: bool = False) -> None:
        now = self._clock()
        over = [
            k for k, w in self._counting.items() if everything or now - w.started >= self._window
        ]
        for kind in over:
            window = self._counting.pop(kind)
            if window.more:
                await self.record(replace(window.entry, count=window.more, records=()))

    async def record(self, entry: AuditRecord, *, at: dt.datetime | None = None) -> int:
        """Append one entry; returns its position once it is committed.

        Entries recorded while a write is under way are written together by the next one, in
        one transaction (group commit): under load the store costs one commit per batch of
        requests rather than one per request. Each caller still returns only after its own
        entry committed, and gets its error if it could not be written.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._waiting.append((entry, _utc(at or dt.datetime.now(dt.UTC)), future))
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = asyncio.create_task(self._write_waiting(), name="audit-writer")
        return await asyncio.shield(future)

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                positions = await self._insert(batch)
            except Exception as exc:  # noqa: BLE001 - handed to the callers waiting
                if len(batch) == 1:
                    _fail(batch[0][2], exc)
                    continue
                # One entry the database refuses must not fail the others.
                for one in batch:
                    try:
                        (position,) = await self._insert([one])
                    except Exception as one_exc:  # noqa: BLE001 - handed to its caller
                        _fail(one[2], one_exc)
                    else:
                        _resolve(one[2], position)
                continue
            for (_, _, future), position in zip(batch, positions, strict=True):
                _resolve(future, position)

    async def _insert(self, batch: Sequence[_Waiting]) -> list[int]:
        async with self._sessions() as session, session.begin():
            return await self._insert_in(session, [(entry, at, None) for entry, at, _ in batch])

    async def append_forwarded(self, batch: Sequence[ForwardedEntry]) -> int:
        """Append entries committed by a service, in one transaction, skipping those already
        here (a forwarder that stopped before deleting its rows sends them again); returns
        how many were new."""
        if not batch:
            return 0
        async with self._sessions() as session, session.begin():
            ids = [f.entry_id for f in batch]
            known = set(
                (
                    await session.scalars(
                        select(audit_log.c.entry_id).where(audit_log.c.entry_id.in_(ids))
                    )
                ).all()
            )
            fresh, seen = [], set(known)
            for f in batch:
                if f.entry_id not in seen:
                    seen.add(f.entry_id)
                    fresh.append((f.entry, _utc(f.occurred_at), f.entry_id))
            await self._insert_in(session, fresh)
        return len(fresh)

    @staticmethod
    async def _insert_in(
        session: AsyncSession, batch: Sequence[tuple[AuditRecord, dt.datetime, str | None]]
    ) -> list[int]:
        if not batch:
            return []
        rows = [
            {
                "entry_id": entry_id,
                "occurred_at": at,
                "channel": entry.channel.value,
                "agency": _fit(entry.agency, 64),
                "subject": _fit(entry.subject, 200),
                "action": _fit(entry.action, 100),
                "category": entry.category.value,
                "outcome": entry.outcome.value,
                "status": entry.status,
                "rule": _fit(entry.rule, 64),
                "route": _fit(entry.route, 200),
                "count": entry.count,
            }
            for entry, at, entry_id in batch
        ]
        positions = [int(p) for p in (await session.scalars(INSERT_ENTRIES, rows)).all()]
        records: list[dict[str, object]] = []
        for (entry, _, _), position in zip(batch, positions, strict=True):
            kept = sorted({(k, i) for k, i in entry.records if RECORD_ID.match(i)})
            records.extend(
                {"position": position, "kind": k, "record_id": i} for k, i in kept[:MAX_RECORDS]
            )
        if records:
            await session.execute(INSERT_RECORDS, records)
        return positions

    async def entries(
        self,
        *,
        after: int = 0,
        limit: int = 50,
        agency: str | None = None,
        action: str | None = None,
        record: str | None = None,
        since: dt.datetime | None = None,
    ) -> list[AuditEntry]:
        """Entries after a position, oldest first, filtered; this process's services first
        forward the entries they committed."""
        await self.forward_committed()
        t = audit_log
        query = select(t).where(t.c.position > after)
        if agency:
            query = query.where(t.c.agency == agency)
        if action:
            query = query.where(t.c.action == action)
        if since is not None:
            query = query.where(t.c.occurred_at >= _utc(since))
        if record:
            query = query.where(
                t.c.position.in_(
                    select(audit_records.c.position).where(audit_records.c.record_id == record)
                )
            )
        async with self._sessions() as session:
            rows = (await session.execute(query.order_by(t.c.position).limit(limit))).all()
            refs = await self._records(session, [r.position for r in rows])
        return [
            AuditEntry(
                position=r.position,
                occurred_at=_utc(r.occurred_at),
                channel=r.channel,
                agency=r.agency,
                subject=r.subject,
                action=r.action,
                category=r.category,
                outcome=r.outcome,
                status=r.status,
                rule=r.rule,
                route=r.route,
                records=refs.get(r.position, []),
                count=r.count,
            )
            for r in rows
        ]

    @staticmethod
    async def _records(
        session: AsyncSession, positions: Sequence[int]
    ) -> dict[int, list[RecordRef]]:
        if not positions:
            return {}
        rows = await session.execute(
            select(audit_records)
            .where(audit_records.c.position.in_(positions))
            .order_by(audit_records.c.position, audit_records.c.kind, audit_records.c.record_id)
        )
        out: dict[int, list[RecordRef]] = {}
        for r in rows:
            out.setdefault(r.position, []).append(RecordRef(kind=r.kind, id=r.record_id))
        return out

    async def ready(self) -> bool:
        """The store answers."""
        async with self._sessions() as session:
            await session.execute(select(1))
        return True


class AuditSettings(BaseSettings):
    """The audit store's setting; every service's settings class inherits it."""

    audit_database_url: str = "sqlite+aiosqlite:///var/audit.db"
    """The deployment's one audit store, shared by every service (PostgreSQL in containers:
    the same URL for all three)."""

    def audit_log(self) -> AuditLog:
        """The store these settings name (not yet started)."""
        return AuditLog(self.audit_database_url)
