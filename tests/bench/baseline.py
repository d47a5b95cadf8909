"""The hand-written baseline of the command benchmark: the same HTTP stack (FastAPI on
uvicorn) and the same body validation (`RaiseNeed`) as the product's `POST /api/needs`, then
one transaction that writes the event row and the outbox row with the raw driver — nothing
else (no token, no audit, no idempotency, no aggregate). What a command costs at the least.

    python -m tests.bench.baseline --port 8101 --db /tmp/baseline.db
"""

import argparse
import datetime as dt
import json
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from services.needs.domain.commands import RaiseNeed

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, version INTEGER NOT NULL,
  event_id TEXT NOT NULL, event_type TEXT NOT NULL, envelope TEXT NOT NULL,
  recorded_at TEXT NOT NULL, UNIQUE (stream_id, version));
CREATE TABLE IF NOT EXISTS outbox (
  position INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, topic TEXT NOT NULL,
  key TEXT, payload TEXT NOT NULL, created_at TEXT NOT NULL, published_at TEXT);
"""


def create_app(db: Path) -> FastAPI:
    """The baseline service on one SQLite file (WAL, as the product's)."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    lock = threading.Lock()  # one connection, one transaction at a time (SQLite has one writer)
    app = FastAPI()

    @app.post("/api/needs", status_code=201)
    def raise_need(cmd: RaiseNeed) -> dict[str, Any]:
        need_id = str(uuid.uuid4())
        now = dt.datetime.now(dt.UTC).isoformat()
        payload = json.dumps({"type": "NeedRaised", "data": cmd.model_dump(mode="json")})
        with lock:
            _write(conn, need_id, payload, now)
        return {"need_id": need_id, **cmd.model_dump(mode="json")}

    return app


def _write(conn: sqlite3.Connection, need_id: str, payload: str, now: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT INTO events (stream_id, version, event_id, event_type, envelope,"
            " recorded_at) VALUES (?, 1, ?, 'NeedRaised', ?, ?)",
            (need_id, need_id, payload, now),
        )
        conn.execute(
            "INSERT INTO outbox (event_id, topic, key, payload, created_at)"
            " VALUES (?, 'secondment.needs.v1', ?, ?, ?)",
            (need_id, need_id, payload, now),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.db), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
