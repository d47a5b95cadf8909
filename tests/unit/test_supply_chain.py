"""What the images and CI install is pinned and checked (issue 15, item 12, supply chain).

`requirements.lock` (the images) and `requirements-dev.lock` (developers and CI, through the
Makefile) pin every dependency with its hashes; `make lock` writes them from pyproject.toml.
Here, without the network: every dependency pyproject.toml declares (and its build backend)
is in them at a version it allows, with hashes; the two agree; the images install only from
the lock, hash-checked; base images are pinned by digest; and `make audit-deps` judges
pip-audit's report so that "nothing could be looked up" is never taken for "clean".
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.audit_deps import verdict

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
DOCKERFILE = ROOT / "Dockerfile"
"""The one Dockerfile of the three services' images (tests/unit/test_compose.py)."""
COMPOSE_FILE = ROOT / "docker-compose.yml"

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?P<rest>[^\n\\]*)"
    r"(?P<hashes>(?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)",
    re.M,
)


def _declared() -> dict[str, list[Requirement]]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return {
        "runtime": [Requirement(r) for r in project["project"]["dependencies"]],
        "dev": [Requirement(r) for r in project["project"]["optional-dependencies"]["dev"]],
        "build": [Requirement(r) for r in project["build-system"]["requires"]],
    }


def _pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every package a lock pins."""
    assert lock.is_file(), f"{lock.name} is missing: run `make lock`"
    text = lock.read_text(encoding="utf-8")
    pins: dict[str, tuple[str, int]] = {
        canonicalize_name(m["name"]): (m["version"], m["hashes"].count("--hash="))
        for m in PIN.finditer(text)
    }
    requirement_lines = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#"))
    ]
    assert len(pins) == len(requirement_lines), f"{lock.name} has lines that are not name==version"
    return pins


def _assert_locked(requirements: list[Requirement], lock: Path) -> None:
    pins = _pins(lock)
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is declared but not in {lock.name}: run `make lock`"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock.name} pins {name}=={version}, pyproject.toml asks {requirement}: "
            "run `make lock`"
        )
        assert hashes, f"{lock.name} pins {name} without a hash"


# --------------------------------------------------------------------------- the lock files


def test_the_dev_lock_holds_every_declared_dependency_with_hashes() -> None:
    declared = _declared()
    _assert_locked(declared["runtime"] + declared["dev"] + declared["build"], DEV_LOCK)


def test_the_image_lock_holds_the_runtime_and_build_dependencies_and_no_dev_tools() -> None:
    declared = _declared()
    _assert_locked(declared["runtime"] + declared["build"], LOCK)
    runtime = {canonicalize_name(r.name) for r in declared["runtime"]}
    dev_only = {canonicalize_name(r.name) for r in declared["dev"]} - runtime
    in_image = dev_only & set(_pins(LOCK))
    assert not in_image, f"requirements.lock would put dev tools in the images: {sorted(in_image)}"


@pytest.mark.parametrize("lock", [LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_locked_package_has_hashes(lock: Path) -> None:
    unhashed = sorted(name for name, (_, hashes) in _pins(lock).items() if not hashes)
    assert not unhashed, f"{lock.name} pins {unhashed} without hashes"


def test_the_two_locks_agree() -> None:
    dev = _pins(DEV_LOCK)
    differ = {
        name: (version, dev.get(name, (None, 0))[0])
        for name, (version, _) in _pins(LOCK).items()
        if dev.get(name, (None, 0))[0] != version
    }
    assert not differ, f"requirements.lock and requirements-dev.lock differ: {differ}"


# --------------------------------------------------------------------------- the images


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (keyword.upper(), rest.strip())
        for keyword, _, rest in (line.partition(" ") for line in lines)
        if keyword and not keyword.startswith("#")
    ]


def test_the_image_installs_only_hash_checked_dependencies() -> None:
    instructions = _instructions(DOCKERFILE)
    copied = [args for keyword, args in instructions if keyword == "COPY"]
    assert any(c.split()[0] == LOCK.name for c in copied), f"{LOCK.name} is not copied in"
    installs = [
        args for keyword, args in instructions if keyword == "RUN" and "pip install" in args
    ]
    assert installs, "no pip install"
    for run in installs:
        words = run.split()
        if "-r" in words:
            assert "--require-hashes" in words, f"installs without checking hashes: {run}"
            assert words[words.index("-r") + 1] == LOCK.name, f"not from {LOCK.name}: {run}"
        else:
            # The project itself: nothing more fetched (no dependencies, no build environment).
            assert words[-1] == ".", f"installs something besides the lock and the project: {run}"
            assert {"--no-deps", "--no-build-isolation"} <= set(words), run
    assert any("-r" in r.split() for r in installs), f"nothing installed from {LOCK.name}"


def test_the_image_starts_from_a_base_pinned_by_digest() -> None:
    stages: set[str] = set()
    for keyword, args in _instructions(DOCKERFILE):
        if keyword != "FROM":
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        if words[0] not in stages:
            assert DIGEST.search(words[0]), f"FROM {words[0]} is not pinned by a sha256 digest"
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2])


def test_every_compose_image_is_pinned_by_digest() -> None:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    for name, service in compose["services"].items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither an image nor a build"
            continue
        # A literal digest, or one the operator must give (compose refuses to start without).
        pinned = DIGEST.search(image) or re.search(r"@sha256:\$\{[A-Z0-9_]+:\?[^}]+\}$", image)
        assert pinned, f"{name}: {image} is not pinned by a sha256 digest"


# --------------------------------------------------------------------------- make audit-deps


def _report(*dependencies: dict[str, Any]) -> dict[str, Any]:
    return {"dependencies": list(dependencies), "fixes": []}


CLEAN = {"name": "jinja2", "version": "3.1.6", "vulns": []}
VULNERABLE = {
    "name": "jinja2",
    "version": "3.1.4",
    "vulns": [{"id": "GHSA-q2x7-8rv6-6q7h", "fix_versions": ["3.1.5"], "aliases": []}],
}
NOT_FOUND = {"name": "numpy", "skip_reason": "Dependency not found and could not be audited"}


def test_audit_deps_fails_on_a_known_vulnerability() -> None:
    result = verdict(_report(VULNERABLE, CLEAN))
    assert result.status == 1
    assert "jinja2 3.1.4: GHSA-q2x7-8rv6-6q7h (fixed in 3.1.5)" in result.message


def test_audit_deps_passes_only_when_every_package_was_looked_up() -> None:
    assert verdict(_report(CLEAN)).status == 0
    partial = verdict(_report(CLEAN, NOT_FOUND))
    assert (partial.status, "numpy" in partial.message) == (1, True)


@pytest.mark.parametrize("report", [None, _report(NOT_FOUND)], ids=["no answer", "none found"])
def test_audit_deps_says_skipped_when_nothing_could_be_looked_up(
    report: dict[str, Any] | None,
) -> None:
    offline = verdict(report)
    assert offline.status == 0
    assert "SKIPPED (not checked, not clean)" in offline.message
    assert verdict(report, required=True).status == 2
