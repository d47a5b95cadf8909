"""The fault schedule: drawn from a seed, printed before the run, the same for the same seed
(`--seed` replays it; the timing of the workload around it is the machine's)."""

from __future__ import annotations

import random
from dataclasses import dataclass

KINDS = ("process_kill", "broker_kill", "postgres_restart", "rebalance", "poison")
SERVICES = ("needs", "placement", "reporting")


@dataclass(frozen=True)
class Fault:
    """One fault: when (seconds after the workload started), what, on what, for how long."""

    at: float
    kind: str
    target: str
    pause: float
    """Seconds a killed process or broker stays down; a joining replica stays."""
    mode: str = ""
    """postgres_restart: fast | immediate; poison: garbage | unknown-type; broker_kill:
    leader | any."""

    def describe(self) -> str:
        extra = f" {self.mode}" if self.mode else ""
        return f"t={self.at:6.1f}s {self.kind:<16} {self.target}{extra} ({self.pause:.1f}s)"


def draw(seed: int, duration: float, *, replicas: int, brokers: int) -> list[Fault]:
    """Faults every 6–14 s from t=8 s to `duration` − 5 s; the first ones cover every kind
    (and both PostgreSQL shutdown modes, both poison kinds) in an order the seed shuffles."""
    rng = random.Random(seed)
    first = [*KINDS, "postgres_restart", "poison"]
    rng.shuffle(first)
    faults: list[Fault] = []
    modes = {"postgres_restart": ["fast", "immediate"], "poison": ["garbage", "unknown-type"]}
    for pending in modes.values():
        rng.shuffle(pending)
    t = 8.0
    while t < duration - 5:
        kind = first.pop(0) if first else rng.choice(KINDS)
        faults.append(_fault(rng, t, kind, modes, replicas=replicas, brokers=brokers))
        t += rng.uniform(6.0, 14.0)
    return faults


def _fault(
    rng: random.Random,
    at: float,
    kind: str,
    modes: dict[str, list[str]],
    *,
    replicas: int,
    brokers: int,
) -> Fault:
    at = round(at, 1)
    if kind == "process_kill":
        target = f"{rng.choice(SERVICES)}-{rng.randrange(replicas) + 1}"
        return Fault(at, kind, target, round(rng.uniform(1.0, 5.0), 1))
    if kind == "broker_kill":
        mode = "leader" if rng.random() < 0.6 else "any"
        node = str(rng.randrange(brokers) + 1)
        return Fault(at, kind, f"node-{node}", round(rng.uniform(2.0, 6.0), 1), mode)
    if kind == "postgres_restart":
        pending = modes[kind]
        mode = pending.pop(0) if pending else rng.choice(("fast", "immediate"))
        return Fault(at, kind, "postgres", 0.0, mode)
    if kind == "rebalance":
        return Fault(at, kind, rng.choice(SERVICES), round(rng.uniform(4.0, 10.0), 1))
    pending = modes["poison"]
    mode = pending.pop(0) if pending else rng.choice(("garbage", "unknown-type"))
    return Fault(at, kind, rng.choice(("needs", "placements")), 0.0, mode)
