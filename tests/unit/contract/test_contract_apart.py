"""The contract ships on its own: its wheel (`make contract-dist`) installed alone, in a
Python that cannot import the platform nor any I/O library, imports every module and reads
every example event — what an agency that takes only the contract gets."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from shared.publishing.contract_dist import build_wheel

PROBE = r"""
import importlib, importlib.abc, json, pkgutil, sys

FORBIDDEN = {"sqlalchemy", "alembic", "asyncpg", "aiosqlite", "fastapi", "starlette",
             "uvicorn", "aiokafka", "faststream", "httpx", "services"}

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in FORBIDDEN or (name.startswith("shared.") and not (
                name == "shared.contract" or name.startswith("shared.contract."))):
            raise ImportError(f"the contract imported {name}")
        return None

sys.meta_path.insert(0, Refuse())
sys.path.insert(0, sys.argv[1])
import shared.contract
from shared.contract.envelope import CloudEvent, read_event
from shared.contract.events import EVENT_TYPES
from shared.contract.examples import example_envelope
from shared.contract.schemas import schemas

modules = [m.name for m in pkgutil.walk_packages(shared.contract.__path__, "shared.contract.")]
for name in modules:
    importlib.import_module(name)
read = [type(read_event(CloudEvent.model_validate(example_envelope(t)))).__name__
        for t in EVENT_TYPES]
print(json.dumps({"file": shared.contract.__file__, "modules": modules, "read": read,
                  "schemas": sorted(schemas())}))
"""


def test_the_contract_wheel_installed_alone_imports_nothing_of_the_platform(
    tmp_path: Path,
) -> None:
    wheel = build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(
        n.startswith(("shared/contract/", "secondment_contract-")) or n == "shared/__init__.py"
        for n in names
    ), names
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, wheel],
        check=True,
    )
    probe = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(site)], capture_output=True, text=True, check=False
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout)
    assert found["file"].startswith(str(site))  # the wheel's copy, not the repository's
    assert {"shared.contract.envelope", "shared.contract.commands"} <= set(found["modules"])
    assert "NeedRaised" in found["read"]
    assert "OfficerSeconded" in found["read"]
    assert "CloudEvent.json" in found["schemas"]
