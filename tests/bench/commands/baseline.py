"""The hand-written baseline of `tests.bench.commands`: what the database allows.

The same HTTP stack as the product (FastAPI on uvicorn, the product's own pydantic body
models), and for each command one transaction with the raw driver writing the event row and
the outbox row; nothing else (no token, no audit, no idempotency, no domain rules, no relay).
`POST /api/secondments` first reads the need's stream (the need check) and `…/ending` the
secondment's last version, in the same transaction.

`python -m tests.bench.commands.baseline --port P (--sqlite FILE | --postgres DSN)`: SQLite
through sqlite3 with the product's pragmas (WAL, `synchronous` as `shared.infra.db` sets it,
`BEGIN IMMEDIATE`) on one connection, PostgreSQL through an asyncpg pool of the product's size.
"""

import argparse
import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg
import uvicorn
from fastapi import FastAPI, HTTPException

from services.needs.domain.commands import RaiseNeed
from services.placement.domain.commands import EndSecondment, SecondOfficial
from shared.infra.db import SQLITE_PRAGMAS

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        stream_id VARCHAR(64) NOT NULL, version INTEGER NOT NULL, event_id VARCHAR(36) NOT NULL,
        event_type VARCHAR(64) NOT NULL, envelope TEXT NOT NULL, recorded_at TEXT NOT NULL,
        PRIMARY KEY (stream_id, version))""",
    """CREATE TABLE IF NOT EXISTS outbox (
        position {serial} PRIMARY KEY, event_id VARCHAR(36) NOT NULL, topic VARCHAR(200) NOT NULL,
        key VARCHAR(64) NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL,
        published_at TEXT)""",
)
INSERT_EVENT = (
    "INSERT INTO events (stream_id, version, event_id, event_type, envelope, recorded_at)"
    " VALUES ({})"
)
INSERT_OUTBOX = "INSERT INTO outbox (event_id, topic, key, payload, created_at) VALUES ({})"
LAST_VERSION = "SELECT max(version) FROM events WHERE stream_id = {}"


class Store(Protocol):
    """One transaction: `check` (a stream's last version, or None) then the two inserts."""

    async def write(self, stream: str, expects: str | None, event: "Event") -> bool:
        """False when the stream `expects` names does not exist (nothing written)."""


class Event:
    """The event row and the outbox row of one command."""

    def __init__(self, stream: str, kind: str, topic: str, data: dict[str, Any]) -> None:
        self.id = str(uuid.uuid4())
        self.stream = stream
        self.kind = kind
        self.topic = topic
        self.at = dt.datetime.now(dt.UTC).isoformat()
        self.payload = json.dumps(
            {"id": self.id, "type": kind, "subject": stream, "time": self.at, "data": data},
            ensure_ascii=False,
        )

    def rows(self, version: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        return (
            (self.stream, version, self.id, self.kind, self.payload, self.at),
            (self.id, self.topic, self.stream, self.payload, self.at),
        )


class SqliteStore:
    """sqlite3 itself, one connection, called on the event loop's thread: on a local file a
    transaction of two inserts takes microseconds, less than a hand-off to a thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._db = sqlite3.connect(self._path, isolation_level=None)
        for pragma in SQLITE_PRAGMAS:
            self._db.execute(pragma)
        for ddl in SCHEMA:
            self._db.execute(ddl.format(serial="INTEGER"))

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()

    async def write(self, stream: str, expects: str | None, event: Event) -> bool:
        db = self._db
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            version = 1
            if expects is not None:
                row = db.execute(LAST_VERSION.format("?"), (expects,)).fetchone()
                if row is None or row[0] is None:
                    db.execute("ROLLBACK")
                    return False
                version = row[0] + 1 if expects == stream else 1
            event_row, outbox_row = event.rows(version)
            db.execute(INSERT_EVENT.format(",".join("?" * 6)), event_row)
            db.execute(INSERT_OUTBOX.format(",".join("?" * 5)), outbox_row)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return True


class PostgresStore:
    """asyncpg, a pool as large as the product's (5 + 5 overflow)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(self._dsn, min_size=5, max_size=10)
        async with self._pool.acquire() as conn:
            for ddl in SCHEMA:
                await conn.execute(ddl.format(serial="BIGSERIAL"))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def write(self, stream: str, expects: str | None, event: Event) -> bool:
        assert self._pool is not None
        async with self._pool.acquire() as conn, conn.transaction():
            version = 1
            if expects is not None:
                last = await conn.fetchval(LAST_VERSION.format("$1"), expects)
                if last is None:
                    return False
                version = last + 1 if expects == stream else 1
            event_row, outbox_row = event.rows(version)
            await conn.execute(INSERT_EVENT.format("$1,$2,$3,$4,$5,$6"), *event_row)
            await conn.execute(INSERT_OUTBOX.format("$1,$2,$3,$4,$5"), *outbox_row)
        return True


def create_baseline_app(store: SqliteStore | PostgresStore) -> FastAPI:
    """The three commands of the benchmark, validated by the product's models."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/needs", status_code=201)
    async def raise_need(cmd: RaiseNeed) -> dict[str, Any]:
        need_id = str(uuid.uuid4())
        data = cmd.model_dump(mode="json")
        await store.write(need_id, None, Event(need_id, "NeedRaised", "needs", data))
        return {"need_id": need_id, **data}

    @app.post("/api/secondments", status_code=201)
    async def second_official(cmd: SecondOfficial) -> dict[str, Any]:
        secondment_id = str(uuid.uuid4())
        data = cmd.model_dump(mode="json")
        event = Event(secondment_id, "OfficerSeconded", "placements", data)
        if not await store.write(secondment_id, str(cmd.need_id), event):
            raise HTTPException(404, "unknown need")
        return {"secondment_id": secondment_id, **data}

    @app.post("/api/secondments/{secondment_id}/ending")
    async def end(secondment_id: uuid.UUID, cmd: EndSecondment) -> dict[str, Any]:
        stream = str(secondment_id)
        data = cmd.model_dump(mode="json")
        if not await store.write(stream, stream, Event(stream, "SecondmentEnded", "p", data)):
            raise HTTPException(404, "unknown secondment")
        return {"secondment_id": stream, **data}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sqlite")
    parser.add_argument("--postgres")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    store: SqliteStore | PostgresStore = (
        SqliteStore(args.sqlite) if args.sqlite else PostgresStore(args.postgres)
    )
    uvicorn.run(
        create_baseline_app(store), host="127.0.0.1", port=args.port, log_level=args.log_level
    )


if __name__ == "__main__":
    main()
