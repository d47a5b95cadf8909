"""`python -m tests.faults.table RUNS.jsonl`: the runs recorded with `--json` as the Markdown
table of docs/reliability.md (one row a run, totals at the end)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KINDS = ("process_kill", "broker_kill", "postgres_restart", "rebalance", "poison")
HEADER = (
    "| seed | brokers | replicas | workload s | kills | broker kills | PG restarts | "
    "rebalances | poisons | accepted | lost | duplicated | converged s | 5xx retried | ok |"
)
HEADER_RULE = "|" + "---|" * (HEADER.count("|") - 1)


def row(run: dict[str, Any]) -> str:
    f = run["faults"]
    converged = "never" if run["converged_s"] is None else f"{run['converged_s']:.1f}"
    cells = [
        run["seed"],
        run["brokers"],
        run["replicas"],
        f"{run['duration_s']:.0f}",
        *(f.get(k, 0) for k in KINDS),
        run["accepted"],
        run["lost"],
        run["duplicated"],
        converged,
        run["server_errors_retried"],
        "yes" if run["ok"] else "**no**",
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(runs: list[dict[str, Any]]) -> str:
    lines = [HEADER, HEADER_RULE]
    lines += [row(r) for r in runs]
    totals = {k: sum(r["faults"].get(k, 0) for r in runs) for k in KINDS}
    lines.append(
        f"\n{len(runs)} runs: {totals['process_kill']} process kills, "
        f"{totals['broker_kill']} broker kills, {totals['postgres_restart']} PostgreSQL "
        f"restarts, {totals['rebalance']} rebalances, {totals['poison']} poison events; "
        f"{sum(r['accepted'] for r in runs)} commands accepted, "
        f"{sum(r['lost'] for r in runs)} lost, {sum(r['duplicated'] for r in runs)} duplicated."
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    runs = [json.loads(line) for line in Path(argv[0]).read_text().splitlines() if line.strip()]
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
