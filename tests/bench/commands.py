"""Command benchmark (issue 11): the product's command path over HTTP side by side with a
hand-written baseline, in one run, on the same machine.

    make bench-commands                      # = python -m tests.bench.commands
    python -m tests.bench.commands --seconds 5 --concurrency 1 16 --json runs.jsonl

What runs, each in its own process so that nothing shares an event loop:
- the product: the embedded default (`python -m services.embedded --no-demo`, SQLite);
- the baseline (`tests/bench/baseline.py`): FastAPI + uvicorn, the same `RaiseNeed`
  validation, one SQLite transaction writing the event row and the outbox row;
- the load generator (this module's `_load`, a `multiprocessing` child): `--concurrency`
  clients sending `POST /api/needs` back to back for `--seconds`, each answer timed.

The two servers are measured alternately (product, baseline, product, baseline … per
concurrency), so a neighbour's burst on this shared machine hits both: the ratio holds where
an absolute figure would not. Prints a table (commands/s, p50/p95/p99 in ms, ratio) and,
with `--json`, appends one JSON object per run. Not part of `make test`.

Covered so far: `POST /api/needs` on the embedded default. The deployed shape (separate
processes, PostgreSQL, Kafka), `POST /api/secondments` and `…/ending`, commands over Kafka and
command → reporting latency are the rest of issue 11 (docs/performance.md says what is
measured).
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.samples import need_body

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    """One measurement: a server at one concurrency."""

    server: str
    concurrency: int
    commands: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.commands / self.seconds if self.seconds else 0.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _drive(url: str, token: str | None, concurrency: int, seconds: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    body = need_body()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as c:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await c.post("/api/needs", json=body)
                if response.status_code == 201:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"latencies": latencies, "errors": errors, "seconds": elapsed}


def _load(url: str, token: str | None, concurrency: int, seconds: float, out: Any) -> None:
    """The load generator's process."""
    out.send(asyncio.run(_drive(url, token, concurrency, seconds)))


def measure(server: str, url: str, token: str | None, concurrency: int, seconds: float) -> Result:
    """Load `url` from a process of its own and summarise."""
    receiving, sending = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context("spawn").Process(
        target=_load, args=(url, token, concurrency, seconds, sending)
    )
    process.start()
    raw = receiving.recv()
    process.join()
    latencies = raw["latencies"]
    return Result(
        server=server,
        concurrency=concurrency,
        commands=len(latencies),
        seconds=raw["seconds"],
        errors=raw["errors"],
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p95_ms=_percentile(latencies, 0.95) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
    )


def _wait(url: str, path: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + path, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def _table(results: list[Result]) -> list[str]:
    lines = [
        f"{'concurrency':>11} {'server':>9} {'cmd/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'errors':>6} {'ratio':>6}"
    ]
    for c in sorted({r.concurrency for r in results}):
        pair = {r.server: r for r in results if r.concurrency == c}
        base = pair.get("baseline")
        for name in ("product", "baseline"):
            r = pair.get(name)
            if r is None:
                continue
            ratio = f"{r.rate / base.rate:6.0%}" if base and base.rate and name == "product" else ""
            lines.append(
                f"{c:>11} {name:>9} {r.rate:8.1f} {r.p50_ms:8.1f} {r.p95_ms:8.1f} "
                f"{r.p99_ms:8.1f} {r.errors:>6} {ratio:>6}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--json", type=Path, help="append the figures as JSON lines")
    args = parser.parse_args()

    from services.embedded.app import keys_dir
    from shared.http.tokens import DevIssuer

    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        work = Path(tmp)
        data = work / "var"
        product_url, baseline_url = "http://127.0.0.1:8191", "http://127.0.0.1:8192"
        product = _start(
            ["-m", "services.embedded", "--no-demo", "--port", "8191", "--data-dir", str(data)],
            work / "product.log",
        )
        baseline = _start(
            ["-m", "tests.bench.baseline", "--port", "8192", "--db", str(work / "baseline.db")],
            work / "baseline.log",
        )
        try:
            _wait(product_url, "/healthz")
            _wait(baseline_url, "/docs")
            token = DevIssuer(keys_dir(data)).mint("SO_Y_TE", ["needs:write"])
            results: list[Result] = []
            for concurrency in args.concurrency:
                for server, url, bearer in (
                    ("product", product_url, token),
                    ("baseline", baseline_url, None),
                ):
                    measure(server, url, bearer, 1, 1.0)  # warm up: connections, caches
                    results.append(measure(server, url, bearer, concurrency, args.seconds))
        finally:
            for p in (product, baseline):
                p.terminate()
                p.wait(30)
    load = os.getloadavg()
    print(f"POST /api/needs, embedded default (SQLite), {args.seconds:g} s per measurement, "
          f"load average {load[0]:.2f} {load[1]:.2f}")  # fmt: skip
    for line in _table(results):
        print(line)
    if args.json is not None:
        with args.json.open("a", encoding="utf-8") as out:
            for r in results:
                record = asdict(r) | {
                    "rate": r.rate,
                    "shape": "embedded",
                    "path": "POST /api/needs",
                    "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "loadavg": load[0],
                }
                out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
