"""docker-compose.yml ships no credentials (issue 15, item 11).

Every secret is required (`${VAR:?…}`: compose refuses to start without it, there is no
fallback), each service reaches PostgreSQL as its own role, the services write the audit log
as the append-only role while only the one-off `audit-migrate` holds the owner's password, the
PostgreSQL init script makes exactly those roles with exactly those passwords, and
`deploy/.env.example` lists what compose requires, with no values.

The files are parsed, not run (there is no Docker engine here); the init script runs against a
stand-in `psql` that records what it is asked to do. On a real server the roles are proven by
tests/integration/test_database_roles.py.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
INIT_FOLDER = ROOT / "deploy" / "postgres" / "init"
INIT_SCRIPT = INIT_FOLDER / "01-roles-and-databases.sh"

SERVICES = ("needs", "placement", "reporting")
AUDIT_OWNER, AUDIT_WRITER, AUDIT_DATABASE = "audit", "audit_writer", "audit"
MIGRATE_JOB = "audit-migrate"

SECRET = re.compile(r"PASSWORD|SECRET|(^|_)KEY$|SCRAM_USERS")
"""Names of variables and settings that hold a secret."""
REFERENCE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
"""Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
`${VAR?error}`, `${VAR:+other}`, `$VAR` (`$$` is a literal dollar)."""


# --------------------------------------------------------------------------- helpers


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _compose()


def _references(text: str) -> Iterator[re.Match[str]]:
    for match in REFERENCE.finditer(text):
        if match.start() > 0 and text[match.start() - 1] == "$":
            continue  # `$$`: a literal dollar
        yield match


def _environment(compose: dict[str, Any], service: str) -> dict[str, str]:
    env = compose["services"][service].get("environment", {})
    if isinstance(env, list):
        return dict(str(item).partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _required_variables() -> set[str]:
    """The variables compose refuses to start without."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    return {m["braced"] for m in _references(text) if m["op"] == ":?"}


@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    """What an operator's .env would hold: a fresh random value for every required variable."""
    return {name: secrets.token_hex(16) for name in _required_variables()}


def _interpolate(value: str, dotenv: dict[str, str]) -> str:
    """The value as compose would hand it to the container, given `dotenv`."""

    def one(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        assert name in dotenv, f"{match[0]} is not required, and not in the .env either"
        return dotenv[name]

    return REFERENCE.sub(one, value).replace("$$", "$")


def _database_url(compose: dict[str, Any], service: str, setting: str) -> str:
    env = _environment(compose, service)
    key = next((k for k in env if k.endswith(setting)), None)
    assert key, f"{service} is given no *{setting}"
    return env[key]


def _role(url: str, dotenv: dict[str, str]) -> URL:
    parsed = make_url(_interpolate(url, dotenv))
    assert parsed.username, f"{url} names no role"
    return parsed


@dataclass
class InitPlan:
    """What the init script asked psql to do."""

    passwords: dict[str, str] = field(default_factory=dict)
    """role -> the password it was given."""
    owners: dict[str, str] = field(default_factory=dict)
    """database -> its owner."""
    writers: dict[str, str] = field(default_factory=dict)
    """database -> the role given SELECT/INSERT on what the owner creates there."""


def _run_init_script(env: dict[str, str], tmp: Path) -> InitPlan:
    """Run the script with a stand-in `psql` that logs its `-v` variables, one call a line."""
    log = tmp / "psql.log"
    fake = tmp / "bin" / "psql"
    fake.parent.mkdir()
    fake.write_text(
        '#!/usr/bin/env bash\nargs=()\nwhile (( $# )); do [[ $1 == -v ]] && args+=("$2"); '
        'shift; done\nprintf "%s\\t" "${args[@]}" >> "$PSQL_LOG"; echo >> "$PSQL_LOG"; '
        "cat > /dev/null\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    run_env = {
        "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
        "PSQL_LOG": str(log),
        **env,
    }
    done = subprocess.run(
        ["bash", str(INIT_SCRIPT)], env=run_env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    plan = InitPlan()
    for line in log.read_text(encoding="utf-8").splitlines():
        call = dict(a.split("=", 1) for a in line.split("\t") if "=" in a)
        if "role" in call:
            plan.passwords[call["role"]] = call["password"]
        elif "writer" in call:
            plan.writers[call["db"]] = call["writer"]
            assert call["owner"] == plan.owners.get(call["db"]), "writer on a foreign database"
        elif "owner" in call:
            plan.owners[call["db"]] = call["owner"]
    return plan


@pytest.fixture
def init_plan(compose: dict[str, Any], dotenv: dict[str, str], tmp_path: Path) -> InitPlan:
    """The init script run with the postgres container's environment."""
    env = {k: _interpolate(v, dotenv) for k, v in _environment(compose, "postgres").items()}
    return _run_init_script(env, tmp_path)


# --------------------------------------------------------------------------- no defaults


def test_no_secret_in_compose_has_a_default_or_can_be_left_empty() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    secrets_seen = set()
    for match in _references(text):
        name = match["braced"] or match["bare"]
        if SECRET.search(name):
            secrets_seen.add(name)
            assert match["op"] == ":?", (
                f"{match[0]}: a secret must be required as ${{{name}:?message}} "
                "(no default, not empty)"
            )
    assert secrets_seen, "docker-compose.yml requires no secret at all"


def test_no_credential_is_written_into_compose(compose: dict[str, Any]) -> None:
    for service in compose["services"]:
        for key, value in _environment(compose, service).items():
            literal = REFERENCE.sub("", value)
            if key.endswith("SCRAM_USERS"):
                users = literal.split()
                assert users, f"{service}: {key} names no users"
                assert all(re.fullmatch(r"[A-Za-z0-9._-]+:", u) for u in users), (
                    f"{service}: {key} holds a literal password ({literal!r} once the "
                    "variables are taken out)"
                )
            elif SECRET.search(key):
                assert not literal.strip(), f"{service}: {key} is written into the file"
                assert [m["op"] for m in _references(value)] == [":?"], (
                    f"{service}: {key} must be one required variable"
                )
            elif key.endswith("_URL"):
                url = make_url(REFERENCE.sub("x", value))
                if url.password is not None:
                    references = list(_references(value.split("@", 1)[0]))
                    assert [m["op"] for m in references if m["braced"]] == [":?"], (
                        f"{service}: the password in {key} is not a required variable"
                    )
                    assert SECRET.search(references[-1]["braced"]), (
                        f"{service}: the password in {key} comes from a variable not named "
                        "as a secret"
                    )


def test_env_example_lists_every_required_variable_with_no_value() -> None:
    assert ENV_EXAMPLE.is_file(), f"{ENV_EXAMPLE} is missing"
    lines = [
        line.strip()
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    example = dict(line.partition("=")[::2] for line in lines)
    assert set(example) == _required_variables(), (
        f"deploy/.env.example lists {sorted(example)}; compose requires "
        f"{sorted(_required_variables())}"
    )
    filled = sorted(k for k, v in example.items() if v.strip())
    assert not filled, f"deploy/.env.example ships values for {filled}: leave them empty"


# --------------------------------------------------------------------------- database roles


def test_each_service_reaches_postgres_as_its_own_role(
    compose: dict[str, Any], dotenv: dict[str, str]
) -> None:
    superuser = _environment(compose, "postgres").get("POSTGRES_USER", "postgres")
    roles = {}
    for service in SERVICES:
        url = _role(_database_url(compose, service, "_DATABASE_URL"), dotenv)
        assert url.database == service
        assert url.username == service, f"{service} connects as {url.username}, not {service}"
        assert url.username != superuser
        roles[service] = (url.username, url.password)
    assert len({user for user, _ in roles.values()}) == len(SERVICES)
    assert len({password for _, password in roles.values()}) == len(SERVICES), (
        "services share a database password"
    )


def test_services_audit_as_the_append_only_role_and_only_the_migration_as_owner(
    compose: dict[str, Any], dotenv: dict[str, str]
) -> None:
    owner = _role(_database_url(compose, MIGRATE_JOB, "AUDIT_DATABASE_URL"), dotenv)
    assert (owner.username, owner.database) == (AUDIT_OWNER, AUDIT_DATABASE)
    job = compose["services"][MIGRATE_JOB]
    assert job["command"][-2:] == ["-m", "shared.infra.audit_migrate"]
    assert job["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert job.get("restart") == "no"

    for service in SERVICES:
        writer = _role(_database_url(compose, service, "_AUDIT_DATABASE_URL"), dotenv)
        assert (writer.username, writer.database) == (AUDIT_WRITER, AUDIT_DATABASE)
        assert writer.password != owner.password
        condition = compose["services"][service]["depends_on"][MIGRATE_JOB]["condition"]
        assert condition == "service_completed_successfully", f"{service} starts unmigrated"

    # The owner's password reaches the migration and PostgreSQL only.
    owner_variables = {
        m["braced"]
        for m in _references(_database_url(compose, MIGRATE_JOB, "AUDIT_DATABASE_URL"))
        if m["braced"]
    }
    for service in compose["services"]:
        if service in (MIGRATE_JOB, "postgres"):
            continue
        given = " ".join(_environment(compose, service).values())
        leaked = owner_variables & {m["braced"] for m in _references(given)}
        assert not leaked, f"{service} is given the audit owner's {sorted(leaked)}"


def test_the_init_script_makes_the_roles_compose_uses(
    compose: dict[str, Any], dotenv: dict[str, str], init_plan: InitPlan
) -> None:
    postgres = compose["services"]["postgres"]
    assert any(
        str(v).split(":")[:2] == ["./deploy/postgres/init", "/docker-entrypoint-initdb.d"]
        for v in postgres.get("volumes", [])
    ), "deploy/postgres/init is not mounted on /docker-entrypoint-initdb.d"
    assert sorted(p.name for p in INIT_FOLDER.iterdir()) == [INIT_SCRIPT.name]
    # The image's entrypoint runs an executable script in its own shell (one that is not
    # executable it sources, with the script's `set -u` leaking into the entrypoint).
    assert INIT_SCRIPT.stat().st_mode & stat.S_IXUSR, f"{INIT_SCRIPT.name} is not executable"

    expected = {
        **{service: (service, "_DATABASE_URL", service) for service in SERVICES},
        AUDIT_OWNER: (MIGRATE_JOB, "AUDIT_DATABASE_URL", AUDIT_DATABASE),
        AUDIT_WRITER: ("needs", "_AUDIT_DATABASE_URL", AUDIT_DATABASE),
    }
    for role, (service, setting, database) in expected.items():
        url = _role(_database_url(compose, service, setting), dotenv)
        assert url.username == role
        assert init_plan.passwords.get(role) == url.password, (
            f"the init script does not give {role} the password {service} logs in with"
        )
        assert database in init_plan.owners, f"the init script creates no database {database}"
    assert init_plan.owners == {
        **{service: service for service in SERVICES},
        "placement_vault": "placement",  # the key vault: the placement role's, apart
        AUDIT_DATABASE: AUDIT_OWNER,
    }
    vault = _role(_database_url(compose, "placement", "_VAULT_URL"), dotenv)
    assert (vault.username, vault.database) == ("placement", "placement_vault")
    assert init_plan.writers == {AUDIT_DATABASE: AUDIT_WRITER}


def test_the_init_script_refuses_to_run_without_every_password(
    compose: dict[str, Any], dotenv: dict[str, str], tmp_path: Path
) -> None:
    env = {k: _interpolate(v, dotenv) for k, v in _environment(compose, "postgres").items()}
    passwords = [k for k in env if k.endswith("_DB_PASSWORD")]
    assert len(passwords) == len(SERVICES) + 2
    for index, missing in enumerate(passwords):
        folder = tmp_path / str(index)
        folder.mkdir()
        with pytest.raises(AssertionError, match=f"set {missing}"):
            _run_init_script({k: v for k, v in env.items() if k != missing}, folder)
