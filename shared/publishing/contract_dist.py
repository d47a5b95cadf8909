"""Build the contract's own wheel (`secondment-contract`): `python -m
shared.publishing.contract_dist [dist/]`, or `make contract-dist`.

The contract package imports nothing else of the project (checked by import-linter), so it
can be shipped alone: this copies `shared/contract/` (and the empty `shared/__init__.py` that
makes it importable under the same name) beside `deploy/contract/pyproject.toml` and lets pip
and setuptools build the wheel, offline, without the platform's code or dependencies.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "deploy" / "contract" / "pyproject.toml"


def build_wheel(out: Path) -> Path:
    """Build the wheel into `out`; its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp)
        shutil.copy(PROJECT, source / "pyproject.toml")
        (source / "shared").mkdir()
        (source / "shared" / "__init__.py").write_text("", encoding="utf-8")
        shutil.copytree(
            ROOT / "shared" / "contract",
            source / "shared" / "contract",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        subprocess.run(
            [
                sys.executable,
                *("-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"),
                *("--wheel-dir", str(out), str(source)),
            ],
            check=True,
        )
    [wheel] = sorted(out.glob("secondment_contract-*.whl"))
    return wheel


if __name__ == "__main__":
    print(build_wheel(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")))
