"""The layering the README promises, checked so that it cannot drift again
(docs/architecture.md draws it; the contracts are `[tool.importlinter]` in pyproject.toml).

import-linter follows indirect imports too: a service layer that reaches SQLAlchemy through
a helper breaks its contract as surely as one that imports it."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_the_contracts_cover_what_the_readme_promises() -> None:
    """Removing a contract from the configuration would make the test above pass for nothing."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    sources = {m for c in contracts for m in c.get("source_modules", [])}
    assert {"shared.contract", "services.*.domain", "services.*.service_layer"} <= sources
    forbidden = {
        m: set(c["forbidden_modules"])
        for c in contracts
        if c["type"] == "forbidden"
        for m in c["source_modules"]
    }
    io = {"sqlalchemy", "fastapi", "aiokafka", "faststream"}
    assert io <= forbidden["shared.contract"]
    assert {"shared.infra", "shared.http"} <= forbidden["shared.contract"]
    assert io | {"services.*.adapters"} <= forbidden["services.*.service_layer"]
    assert io | {"services.*.adapters"} <= forbidden["services.*.domain"]
    [independent] = [c for c in contracts if c["type"] == "independence"]
    assert {"services.needs", "services.placement", "services.reporting"} <= set(
        independent["modules"]
    )


MAX_LINES = 400
REASON = "Longer than 400 lines:"


def test_no_module_holds_several_jobs_unless_it_says_why() -> None:
    """A module is one reason to change; past about 400 lines it says at its top why it is
    still one (`Longer than 400 lines: …`), or it is split."""
    long = []
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("shared/**/*.py")]):
        if "migrations" in path.parts:
            continue  # generated revisions
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_LINES and REASON not in text[:3000]:
            long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
    assert not long, "split these, or say at the top why not:\n" + "\n".join(long)
