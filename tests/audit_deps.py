"""`python -m tests.audit_deps LOCK...`: known vulnerabilities of the locked dependencies.

`make audit-deps` (run by .ci/run) runs pip-audit on the hashed lock: it reads the pins as they
are (nothing resolved, nothing installed) and asks the package index's advisory data about each
pinned version. pip-audit alone would pass a lock none of whose packages it could look up
("not found" is a skip, not a failure), so its JSON report is judged here:

- a known vulnerability in any locked package: failure (exit 1), listing each with its fix;
- every package looked up and none vulnerable: pass;
- none could be looked up (no answer from the advisory service, or an index that serves no
  per-version advisory data, as this workplace's does): SKIPPED, said loudly, exit 0, which is
  "not checked", never "clean"; `AUDIT_DEPS_REQUIRED=1` makes it a failure (exit 2);
- some looked up, some not: failure (exit 1): the service answers, so a gap is a real gap.
"""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """What `make audit-deps` says and how it exits."""

    status: int
    message: str


def verdict(report: dict[str, Any] | None, *, required: bool = False) -> Verdict:
    """Judge pip-audit's JSON report (None: it wrote none, having reached no service)."""
    skipped_status = 2 if required else 0
    if report is None:
        return Verdict(
            skipped_status,
            "audit-deps: SKIPPED (not checked, not clean): the advisory data could not be "
            "reached (offline?)",
        )
    dependencies: list[dict[str, Any]] = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    if vulnerable:
        lines = [
            f"  {d['name']} {d['version']}: {v['id']}"
            + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
            for d in vulnerable
            for v in d["vulns"]
        ]
        found = "\n".join(lines)
        return Verdict(1, f"audit-deps: known vulnerabilities in locked packages:\n{found}")
    if not dependencies or not audited:
        return Verdict(
            skipped_status,
            f"audit-deps: SKIPPED (not checked, not clean): none of the {len(dependencies)} "
            "locked packages could be looked up in the advisory data (offline, or an index "
            "without it)",
        )
    missing = sorted(d["name"] for d in dependencies if "skip_reason" in d)
    if missing:
        return Verdict(1, f"audit-deps: could not look up {', '.join(missing)}")
    return Verdict(0, f"audit-deps: {len(audited)} locked packages, no known vulnerabilities")


def audit(locks: list[Path]) -> dict[str, Any] | None:
    """pip-audit's report on the locks, or None when it produced none."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "report.json"
        command = [sys.executable, "-m", "pip_audit", "--require-hashes", "--disable-pip"]
        for lock in locks:
            command += ["-r", str(lock)]
        command += ["--format", "json", "--output", str(output), "--progress-spinner", "off"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if not output.is_file():
            last = done.stderr.strip().splitlines()[-1:] or ["pip-audit wrote no report"]
            print(f"pip-audit: {last[0]}", file=sys.stderr)
            return None
        report: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
        return report


def main(argv: list[str]) -> int:
    """Audit the lock files named on the command line."""
    if not argv:
        print("usage: python -m tests.audit_deps LOCK...", file=sys.stderr)
        return 2
    required = os.environ.get("AUDIT_DEPS_REQUIRED", "") not in ("", "0")
    result = verdict(audit([Path(a) for a in argv]), required=required)
    print(result.message, file=sys.stderr if result.status else sys.stdout)
    return result.status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
