"""`python -m tests.faults` (`make chaos`): one fault-injection run, ending with the summary
line `faults: K process kills, B broker kills, P postgres restarts, R rebalances; accepted A;
lost 0; duplicated 0; converged in S s`. Exit status 0 only when nothing was lost or
doubled and every invariant held (docs/reliability.md)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.run import Options, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="replay a schedule (default: new)")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of workload")
    parser.add_argument("--brokers", type=int, choices=(1, 3), default=3)
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=2)
    parser.add_argument("--workers", type=int, default=4, help="concurrent lifecycles")
    parser.add_argument("--kafka-port", type=int, default=39092)
    parser.add_argument("--pg-port", type=int, default=55442)
    parser.add_argument("--converge-within", type=float, default=240.0)
    parser.add_argument("--json", type=Path, default=None, help="append the result (one line)")
    parser.add_argument("--logs", type=Path, default=None, help="where the services log")
    parser.add_argument("--keep", action="store_true", help="keep databases and broker after")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    logs = args.logs or Path(tempfile.mkdtemp(prefix=f"chaos-{seed}-"))
    options = Options(
        seed=seed,
        duration=args.duration,
        brokers=args.brokers,
        replicas=args.replicas,
        workers=args.workers,
        kafka_port=args.kafka_port,
        pg_port=args.pg_port,
        converge_within=args.converge_within,
        logs=logs,
        keep=args.keep,
    )
    result = asyncio.run(run(options))
    if args.json is not None:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        record = result.as_json() | {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": commit,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with args.json.open("a") as out:
            out.write(json.dumps(record) + "\n")
    print(result.summary(), flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"(chaos run took {time.monotonic() - started:.0f}s)", file=sys.stderr)
    sys.exit(code)
