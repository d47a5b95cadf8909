"""The load generator of `tests.bench.commands`, run as a process of its own so that it never
shares an event loop (or a GIL) with the server it measures.

`python -m tests.bench.commands.load` reads one JSON spec on stdin and prints one JSON result
on stdout. A run is a list of phases; each sends `count` requests of one kind with `concurrency`
requests in flight, over keep-alive connections (one per worker), and reports every latency.
The phases of one run chain: secondments are made for the needs the run raised, endings for
the secondments it made.

The client is h11 over asyncio streams rather than httpx: httpx spends about a millisecond of
CPU per request, and on a 2-core machine the generator's CPU is taken from the server.
"""

import asyncio
import contextlib
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h11

from tests.samples import ending_body, need_body, secondment_body

POSITIONS = 20
"""Positions of each need raised (the most a need may have): one need takes 20 secondments."""


class Failed(Exception):
    """A request was not answered with the status the scenario expects."""


@dataclass
class Connection:
    """One keep-alive HTTP/1.1 connection."""

    host: str
    port: int
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    h: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """Send one request and read its whole answer."""
        if self.writer is None or self.h.our_state is h11.MUST_CLOSE:
            await self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.h = h11.Connection(h11.CLIENT)
        assert self.reader is not None
        assert self.writer is not None
        all_headers = [
            ("host", f"{self.host}:{self.port}"),
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            *headers.items(),
        ]
        self.writer.write(self.h.send(h11.Request(method=method, target=path, headers=all_headers)))
        self.writer.write(self.h.send(h11.Data(data=body)))
        self.writer.write(self.h.send(h11.EndOfMessage()))
        status, chunks = 0, []
        while True:
            event = self.h.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(65536)
                self.h.receive_data(data)
                if not data and self.h.their_state is not h11.DONE:
                    raise Failed("the server closed the connection")
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
        if self.h.our_state is h11.DONE and self.h.their_state is h11.DONE:
            self.h.start_next_cycle()
        return status, b"".join(chunks)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


@dataclass
class Phase:
    """One kind of request, `count` times, `concurrency` in flight (or at `rate` per second)."""

    kind: str
    """`needs`, `secondments` or `endings`."""
    count: int
    concurrency: int
    rate: float | None = None
    """Requests per second, sent on a fixed schedule (open loop) instead of back to back."""


@dataclass
class Run:
    """One phase's inputs (tokens, the needs and secondments to act on) and what it made."""

    host: str
    port: int
    tokens: dict[str, str]
    idempotency_keys: bool
    need_ids: list[str] = field(default_factory=list)
    """Needs with every position free: secondment i goes to need i // POSITIONS."""
    secondment_ids: list[str] = field(default_factory=list)
    """Active secondments: ending i ends the i-th."""
    made: list[str] = field(default_factory=list)
    """Ids of the needs or secondments this phase created, in answer order."""
    answered_at: dict[str, float] = field(default_factory=dict)
    """Wall-clock time each need was answered (for the command → reporting latency)."""

    def headers(self, token: str) -> dict[str, str]:
        out = {"authorization": f"Bearer {self.tokens[token]}"}
        if self.idempotency_keys:
            out["idempotency-key"] = str(uuid.uuid4())
        return out

    def next_request(self, kind: str, i: int) -> tuple[str, dict[str, str], dict[str, Any]]:
        """(path, headers, body) of the i-th request of a phase of `kind`."""
        if kind == "needs":
            return "/api/needs", self.headers("host"), need_body(positions=POSITIONS)
        if kind == "secondments":
            body = secondment_body(self.need_ids[i // POSITIONS])
            official = f"B{uuid.uuid4().hex[:16]}"  # one official per secondment: no overlap
            body["official"] = {**body["official"], "official_id": official}
            return "/api/secondments", self.headers("home"), body
        if kind == "endings":
            path = f"/api/secondments/{self.secondment_ids[i]}/ending"
            return path, self.headers("home"), ending_body()
        raise ValueError(kind)

    def answered(self, kind: str, status: int, body: bytes) -> None:
        expected = 200 if kind == "endings" else 201
        if status != expected:
            raise Failed(f"{kind}: HTTP {status}: {body[:300]!r}")
        answer = json.loads(body)
        if kind == "needs":
            self.made.append(answer["need_id"])
            self.answered_at[answer["need_id"]] = time.time()
        elif kind == "secondments":
            self.made.append(answer["secondment_id"])


async def run_phase(run: Run, phase: Phase) -> dict[str, Any]:
    """Send the phase's requests; its throughput and every latency (seconds)."""
    latencies: list[float] = []
    errors: list[str] = []
    requests = [run.next_request(phase.kind, i) for i in range(phase.count)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(phase.count):
        queue.put_nowait(i)
    start = time.perf_counter()

    async def worker() -> None:
        conn = Connection(run.host, run.port)
        try:
            while not queue.empty():
                i = queue.get_nowait()
                if phase.rate:
                    due = start + i / phase.rate
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                path, headers, body = requests[i]
                t0 = time.perf_counter()
                try:
                    status, answer = await conn.request(
                        "POST", path, headers, json.dumps(body).encode()
                    )
                    run.answered(phase.kind, status, answer)
                except (Failed, OSError, h11.ProtocolError) as exc:
                    errors.append(str(exc))
                    await conn.close()
                    continue
                latencies.append(time.perf_counter() - t0)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(phase.concurrency)))
    elapsed = time.perf_counter() - start
    return {
        "kind": phase.kind,
        "concurrency": phase.concurrency,
        "rate": phase.rate,
        "count": phase.count,
        "ok": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": elapsed,
        "per_second": len(latencies) / elapsed if elapsed else 0.0,
        "latencies": latencies,
    }


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one phase; the ids it needs come in the spec and the ids it made go out."""
    url = urlsplit(spec["url"])
    assert url.hostname is not None
    assert url.port is not None
    run = Run(url.hostname, url.port, spec["tokens"], spec.get("idempotency_keys", True))
    run.need_ids.extend(spec.get("need_ids", []))
    run.secondment_ids.extend(spec.get("secondment_ids", []))
    result = await run_phase(run, Phase(**spec["phase"]))
    return result | {"made": run.made, "answered_at": run.answered_at}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.load(sys.stdin)))))
