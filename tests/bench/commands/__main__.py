"""`make bench-commands`: the command side against what the database allows, in one run.

For each store it starts the product and a hand-written baseline (`baseline.py`: the same
HTTP stack and body models, one transaction writing the event row and the outbox row with the
raw driver, nothing else) as processes of their own, and drives both with the same load
generator (`load.py`, a third process): `POST /api/needs`, `POST /api/secondments` (on needs
the run raised: the need check) and `POST …/ending`, each at concurrency 1, 16 and 64, the
product and the baseline taking turns phase by phase so that both meet the same machine. Every
product request carries an `Idempotency-Key`, as a client that retries sends it.

Sections (`--sections`, default all):
- `embedded`: `python -m services.embedded` (the `make run` shape: SQLite files, in-process
  bus, the reporting projection in the same process) against the SQLite baseline; then
  command → visible in reporting at a steady 50 commands/s, and the outbox's publish lag;
- `deployed` (`tests/bench/commands/deployed.py`): the three services as processes on
  PostgreSQL and the test Kafka broker, against the asyncpg baseline, on the test cluster
  (`fsync=off`) and on a durable cluster of the bench's own (`fsync=on`,
  `synchronous_commit=on`, started with the fault suite's code); commands over Kafka against an
  aiokafka → asyncpg baseline.

It prints a table (product, baseline, ratio, p50/p95/p99, server CPU per command) and with
`--json FILE` appends the figures as one JSON line. The machine is usually shared: the ratios
and the CPU per command are what to compare between runs, not the rates alone.
"""

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.embedded.app import keys_dir
from shared.http.tokens import DevIssuer
from tests.bench.commands.measure import REPO, Stats, Target, percentile, rss_mib

KINDS = ("needs", "secondments", "endings")
COMMAND = {
    "needs": "POST /api/needs",
    "secondments": "POST /api/secondments",
    "endings": "POST …/ending",
}
PYTHON_M = (sys.executable, "-m")
HOST_SCOPES = ("needs:write", "reception:write")
HOME_SCOPES = ("secondments:write",)


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Row:
    """One command at one concurrency on one store: product against baseline."""

    section: str
    command: str
    concurrency: int
    product: Stats
    baseline: Stats

    @property
    def ratio(self) -> float:
        return self.product.per_second / self.baseline.per_second

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "command": self.command,
            "concurrency": self.concurrency,
            "ratio": round(self.ratio, 3),
            "product": asdict(self.product),
            "baseline": asdict(self.baseline),
        }


@dataclass
class Report:
    """Everything one run measured."""

    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    loads: list[tuple[float, float, float]] = field(default_factory=list)

    def table(self) -> str:
        head = (
            f"{'section':<18} {'command':<22} {'c':>3} | {'product/s':>9} {'baseline/s':>10} "
            f"{'ratio':>5} | {'product p50/p95/p99 ms':>24} | {'baseline p50/p95/p99 ms':>24} | "
            f"{'CPU ms/cmd p/b':>14}"
        )
        lines = [head, "-" * len(head)]
        for r in self.rows:
            p, b = r.product, r.baseline
            errors = f"  ({p.errors} product errors)" if p.errors else ""
            lines.append(
                f"{r.section:<18} {r.command:<22} {r.concurrency:>3} | {p.per_second:>9.0f} "
                f"{b.per_second:>10.0f} {r.ratio:>5.2f} | "
                f"{p.p50_ms:>7.1f} {p.p95_ms:>7.1f} {p.p99_ms:>8.1f} | "
                f"{b.p50_ms:>7.1f} {b.p95_ms:>7.1f} {b.p99_ms:>8.1f} | "
                f"{p.cpu_ms_per_command:>6.2f} {b.cpu_ms_per_command:>6.2f}{errors}"
            )
        return "\n".join(lines)


PRODUCT_REPO = [REPO]
"""Where the product runs from (`--product-repo`: another checkout, for before/after)."""


class Server:
    """A server process (the product or a baseline), stopped at the end of its section."""

    def __init__(
        self,
        label: str,
        argv: list[str],
        port: int,
        log: Path,
        env: dict[str, str],
        cwd: Path = REPO,
    ):
        self.label = label
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=os.environ | {"PYTHONUNBUFFERED": "1"} | env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def ready(self, path: str = "/readyz", within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited; see {self.log}")
            try:
                if httpx.get(self.url + path, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.label} not ready after {within:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@contextmanager
def servers(*started: Server) -> Iterator[None]:
    try:
        yield
    finally:
        for s in started:
            s.stop()


def compare(
    report: Report,
    section: str,
    product: Target,
    baseline: Target,
    concurrencies: Sequence[int],
    requests: int,
    settle: Callable[[], None],
) -> None:
    """Each command at each concurrency, product and baseline taking turns."""
    for c in concurrencies:
        for kind in KINDS:
            if kind == "secondments":
                settle()  # the needs just raised have reached the placement service
            stats = {}
            for target in (product, baseline):
                stats[target.label] = target.phase(kind, requests, c)
            row = Row(section, COMMAND[kind], c, stats["product"], stats["baseline"])
            report.rows.append(row)
            report.loads.append(os.getloadavg())
            p, b = row.product, row.baseline
            say(
                f"  {section} {COMMAND[kind]} c={c}: product {p.per_second:.0f}/s "
                f"(p50 {p.p50_ms:.1f}, p99 {p.p99_ms:.1f} ms, {p.cpu_ms_per_command:.2f} ms CPU), "
                f"baseline {b.per_second:.0f}/s (p50 {b.p50_ms:.1f}, p99 {b.p99_ms:.1f} ms), "
                f"ratio {row.ratio:.2f}; load {os.getloadavg()[0]:.1f}"
                + (f"; {p.errors} errors, e.g. {p.first_errors[:1]}" if p.errors else "")
            )


class Settle:
    """Waits until the product's outboxes are empty (what was raised has reached everyone)."""

    def __init__(self, pending: "PendingRows", within: float = 60.0) -> None:
        self._pending = pending
        self._within = within

    def __call__(self) -> None:
        deadline = time.monotonic() + self._within
        while self._pending() and time.monotonic() < deadline:
            time.sleep(0.05)


class PendingRows:
    """Unpublished outbox rows of SQLite files (read-only connections: they take no lock)."""

    def __init__(self, files: Sequence[Path]) -> None:
        self._files = files

    def __call__(self) -> int:
        total = 0
        for f in self._files:
            with _readonly(f) as db:
                row = db.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                total += int(row.fetchone()[0])
        return total


@contextmanager
def _readonly(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        yield db
    finally:
        db.close()


class ChangeLogWatcher(threading.Thread):
    """Polls the reporting read models' change log (`rm_changes`) and notes when each need id
    first appears in it: the moment it is visible to an evaluation."""

    def __init__(self, read_since: "ReadSince", every: float = 0.005) -> None:
        super().__init__(daemon=True)
        self._read = read_since
        self._every = every
        self.seen: dict[str, float] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        revision = self._read.last_revision()
        while not self._halt.is_set():
            now = time.time()
            for rev, need_ids in self._read.since(revision):
                revision = max(revision, rev)
                for need_id in json.loads(need_ids):
                    self.seen.setdefault(need_id, now)
            time.sleep(self._every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


class ReadSince:
    """`rm_changes` rows after a revision, from the embedded default's reporting file."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def last_revision(self) -> int:
        with _readonly(self._path) as db:
            return int(
                db.execute("SELECT coalesce(max(revision), 0) FROM rm_changes").fetchone()[0]
            )

    def since(self, revision: int) -> list[tuple[int, str]]:
        with _readonly(self._path) as db:
            rows = db.execute(
                "SELECT revision, need_ids FROM rm_changes WHERE revision > ? ORDER BY revision",
                (revision,),
            ).fetchall()
        return [(int(r), str(n)) for r, n in rows]


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max of seconds, in milliseconds."""
    s = sorted(values)
    return {
        "count": len(s),
        "p50_ms": round(percentile(s, 0.50) * 1000, 1),
        "p95_ms": round(percentile(s, 0.95) * 1000, 1),
        "p99_ms": round(percentile(s, 0.99) * 1000, 1),
        "max_ms": round(s[-1] * 1000, 1) if s else float("nan"),
    }


def visible_in_reporting(
    product: Target, watcher: ChangeLogWatcher, rate: float, seconds: float
) -> dict[str, Any]:
    """Needs raised at a steady rate; from each answer to its first appearance in reporting."""
    watcher.start()
    try:
        stats = product.phase("needs", int(rate * seconds), 8, rate=rate)
        deadline = time.monotonic() + 30
        answered = product.last_answered_at
        while time.monotonic() < deadline and not set(answered) <= set(watcher.seen):
            time.sleep(0.05)
    finally:
        watcher.stop()
    delays = [watcher.seen[i] - t for i, t in answered.items() if i in watcher.seen]
    return {
        "rate": rate,
        "achieved_per_second": round(stats.per_second, 1),
        "command_p50_ms": round(stats.p50_ms, 1),
        "command_p99_ms": round(stats.p99_ms, 1),
        "never_seen": len(answered) - len(delays),
        "visible": latency_summary(delays),
    }


def sqlite_outbox_lag(path: Path, since: dt.datetime) -> dict[str, float]:
    """From each outbox row's creation to its publication (in the embedded default: once every
    in-process consumer has committed it)."""
    with _readonly(path) as db:
        rows = db.execute(
            "SELECT created_at, published_at FROM outbox WHERE published_at IS NOT NULL"
            " AND created_at >= ?",
            (since.strftime("%Y-%m-%d %H:%M:%S"),),
        ).fetchall()
    lags = [
        (dt.datetime.fromisoformat(p) - dt.datetime.fromisoformat(c)).total_seconds()
        for c, p in rows
    ]
    return latency_summary(lags)


def embedded(
    report: Report, concurrencies: Sequence[int], requests: int, rate: float, seconds: float
) -> None:
    """The `make run` shape against the SQLite baseline."""
    work = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    data = work / "var"
    product_port, baseline_port = free_port(), free_port()
    product_argv = ["services.embedded", "--no-demo", "--port", str(product_port)]
    product_server = Server(
        "product",
        [*PYTHON_M, *product_argv, "--data-dir", str(data)],
        product_port,
        work / "embedded.log",
        {},
        cwd=PRODUCT_REPO[0],
    )
    baseline_argv = ["tests.bench.commands.baseline", "--port", str(baseline_port)]
    baseline_server = Server(
        "baseline",
        [*PYTHON_M, *baseline_argv, "--sqlite", str(work / "baseline.db")],
        baseline_port,
        work / "baseline.log",
        {},
    )
    with servers(product_server, baseline_server):
        product_server.ready()
        baseline_server.ready("/healthz")
        issuer = DevIssuer(keys_dir(data))
        tokens = {
            "host": issuer.mint("SO_Y_TE", HOST_SCOPES),
            "home": issuer.mint("NAM_GIANG", HOME_SCOPES),
        }
        product = Target("product", product_server.url, [product_server.process.pid], tokens)
        baseline = Target("baseline", baseline_server.url, [baseline_server.process.pid], tokens)
        settle = Settle(PendingRows([data / "needs.db", data / "placement.db"]))
        for target in (product, baseline):  # warm up: imports, caches, the first pages
            target.phase("needs", 200, 4)
        compare(report, "embedded (SQLite)", product, baseline, concurrencies, requests, settle)
        settle()
        since = dt.datetime.now(dt.UTC)
        say(f"  command → visible in reporting at {rate:.0f} commands/s for {seconds:.0f} s …")
        visible = visible_in_reporting(
            product, ChangeLogWatcher(ReadSince(data / "reporting.db")), rate, seconds
        )
        visible["outbox_publish_lag"] = sqlite_outbox_lag(data / "needs.db", since)
        visible["rss_mib"] = {
            "embedded (all three services)": rss_mib(product_server.process.pid),
            "baseline": rss_mib(baseline_server.process.pid),
        }
        report.extra["embedded"] = visible
        say(f"  {json.dumps(visible)}")


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "sqlite": sqlite3.sqlite_version,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.commands", description=__doc__)
    parser.add_argument("--sections", default="embedded,deployed", help="embedded,deployed")
    parser.add_argument("--kafka", type=int, default=2000, help="commands over Kafka")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated")
    parser.add_argument("--requests", type=int, default=1000, help="per command and level")
    parser.add_argument("--rate", type=float, default=50.0, help="for the reporting latency")
    parser.add_argument("--seconds", type=float, default=20.0, help="for the reporting latency")
    parser.add_argument("--json", type=Path, default=None, help="append the figures here")
    parser.add_argument(
        "--product-repo", type=Path, default=REPO, help="run the product from this checkout"
    )
    args = parser.parse_args(argv)
    PRODUCT_REPO[0] = args.product_repo.resolve()
    import tests.faults.cluster as cluster  # the deployed shape's processes, from there too

    cluster.REPO = PRODUCT_REPO[0]
    sections = args.sections.split(",")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    report = Report()
    started = dt.datetime.now(dt.UTC)
    say(f"bench-commands: {', '.join(sections)}; load average {os.getloadavg()}")
    if "embedded" in sections:
        embedded(report, concurrencies, args.requests, args.rate, args.seconds)
    if "deployed" in sections:
        from tests.bench.commands.deployed import deployed

        deployed(report, concurrencies, args.requests, args.rate, args.seconds, args.kafka)
    say("")
    say(report.table())
    loads = [x[0] for x in report.loads] or [0.0]
    say(f"load average (1 min) during the phases: {min(loads):.1f}–{max(loads):.1f}")
    for name, extra in report.extra.items():
        say(f"{name}: {json.dumps(extra)}")
    if args.json is not None:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        ).stdout.strip()
        record = {
            "date": started.isoformat(timespec="seconds"),
            "commit": commit,
            "product_repo": str(PRODUCT_REPO[0]),
            "machine": machine(),
            "requests": args.requests,
            "rows": [r.as_json() for r in report.rows],
            "load_1min": [round(x, 2) for x in loads],
            **report.extra,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a") as out:
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
