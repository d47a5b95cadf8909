"""What `tests.bench.commands` measures around each phase: the server processes' CPU and
memory (from /proc), the load average, latency percentiles, and the load generator's runs."""

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
POSITIONS = 20


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of the processes (and their threads) so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process, MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile (0–1) of sorted values, nearest rank."""
    if not sorted_values:
        return math.nan
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]


@dataclass
class Stats:
    """One target's figures for one phase."""

    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    ok: int
    errors: int
    cpu_ms_per_command: float
    load: float
    first_errors: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, run: dict[str, Any], cpu: float, load: float) -> "Stats":
        lat = sorted(run["latencies"])
        return cls(
            per_second=run["per_second"],
            p50_ms=percentile(lat, 0.50) * 1000,
            p95_ms=percentile(lat, 0.95) * 1000,
            p99_ms=percentile(lat, 0.99) * 1000,
            ok=run["ok"],
            errors=run["errors"],
            cpu_ms_per_command=cpu / run["ok"] * 1000 if run["ok"] else math.nan,
            load=load,
            first_errors=run["first_errors"],
        )


@dataclass
class Target:
    """A server under load: the product or the baseline of one store."""

    label: str
    url: str
    pids: list[int]
    tokens: dict[str, str]
    idempotency_keys: bool = True
    urls: dict[str, str] = field(default_factory=dict)
    """Where each kind of command goes, when not to `url` (the deployed shape's services)."""
    fresh_needs: list[str] = field(default_factory=list)
    """Needs raised with every position still free."""
    active: list[str] = field(default_factory=list)
    """Secondments made and not yet ended."""

    def phase(self, kind: str, count: int, concurrency: int, rate: float | None = None) -> Stats:
        """Run one phase in a load generator process of its own; the server's CPU meanwhile."""
        spec: dict[str, Any] = {
            "url": self.urls.get(kind, self.url),
            "tokens": self.tokens,
            "idempotency_keys": self.idempotency_keys,
            "phase": {"kind": kind, "count": count, "concurrency": concurrency, "rate": rate},
        }
        if kind == "secondments":
            needed = math.ceil(count / POSITIONS)
            if len(self.fresh_needs) < needed:
                raise RuntimeError(f"{self.label}: {needed} fresh needs wanted")
            spec["need_ids"], self.fresh_needs = (
                self.fresh_needs[:needed],
                self.fresh_needs[needed:],
            )
        elif kind == "endings":
            if len(self.active) < count:
                raise RuntimeError(f"{self.label}: {count} active secondments wanted")
            spec["secondment_ids"], self.active = self.active[:count], self.active[count:]
        before = cpu_seconds(self.pids)
        run = run_load(spec)
        cpu = cpu_seconds(self.pids) - before
        if kind == "needs":
            self.fresh_needs.extend(run["made"])
        elif kind == "secondments":
            self.active.extend(run["made"])
        self.last_answered_at: dict[str, float] = run["answered_at"]
        return Stats.of(run, cpu, os.getloadavg()[0])


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """`python -m tests.bench.commands.load` with the spec; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.commands.load"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result
