"""docker-compose.yml and the Dockerfile agree with the code.

No Docker engine is needed: the files are parsed and checked against the services' settings
classes, so a renamed setting or a moved port fails here, not at deploy. The PostgreSQL init
script, the database roles and the secrets: tests/unit/test_compose_secrets.py.
"""

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.settings_env import (
    SERVICES,
    SETTINGS,
    env_prefix,
    known_variables,
    settings_from_environment,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
KAFKA_ADR = ROOT / "docs" / "adr" / "0002-kafka-and-postgresql-without-docker.md"

INFRASTRUCTURE = ("kafka", "postgres")

# Fields whose defaults suit the embedded mode (SQLite file, broker on 127.0.0.1) and would be
# wrong in a container: compose must set them.
REQUIRED_IN_CONTAINERS = ("database_url", "kafka_bootstrap", "audit_database_url")

BASE_IMAGE = "python:3.11-slim"
KAFKA_IN_NETWORK = "kafka:9092"
KAFKA_FROM_HOST = "localhost:29092"
KAFKA_HOST_PORT = 29092


# --------------------------------------------------------------------------- helpers


def _load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load_compose()


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    services = compose.get("services")
    assert isinstance(services, dict), "docker-compose.yml has no services mapping"
    service = services.get(name)
    assert isinstance(service, dict), f"docker-compose.yml has no service {name!r}"
    return service


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, from either compose syntax (mapping or list of KEY=VALUE)."""
    env = service.get("environment", {})
    if isinstance(env, dict):
        return {str(k): "" if v is None else str(v) for k, v in env.items()}
    assert isinstance(env, list), f"environment must be a mapping or a list, not {env!r}"
    pairs = [str(item).partition("=") for item in env]
    return {key: value for key, _, value in pairs}


def _settings_from_compose(compose: dict[str, Any], name: str) -> dict[str, Any]:
    """The settings the container would get: compose's environment over the class defaults."""
    return settings_from_environment(name, _environment(_service(compose, name)))


def _published_ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(published, target) pairs from the short ("[ip:]host:container") or long syntax."""
    pairs: list[tuple[int, int]] = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.append((int(port["published"]), int(port["target"])))
            continue
        spec = str(port).split("/")[0]  # drop a "/tcp" suffix
        parts = spec.rsplit(":", 2)
        assert len(parts) >= 2, f"port {port!r} is not published on the host"
        pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def _healthcheck_command(service: dict[str, Any]) -> str:
    check = service.get("healthcheck")
    assert isinstance(check, dict), "no healthcheck"
    assert not check.get("disable", False), "healthcheck disabled"
    test = check.get("test")
    assert test, "healthcheck has no test"
    if isinstance(test, list):
        assert test[0] in ("CMD", "CMD-SHELL"), f"healthcheck test starts with {test[0]!r}"
        return " ".join(str(t) for t in test[1:])
    return str(test)


def _database_name(url: str) -> str:
    database = make_url(url).database
    assert database, f"{url} names no database"
    return database


def _dockerfile_path(compose: dict[str, Any], name: str) -> Path:
    build = _service(compose, name).get("build")
    assert isinstance(build, dict), f"{name} has no build section with a dockerfile"
    context = (COMPOSE_FILE.parent / str(build.get("context", "."))).resolve()
    return context / str(build.get("dockerfile", "Dockerfile"))


def _build_args(compose: dict[str, Any], name: str) -> dict[str, str]:
    build = _service(compose, name).get("build")
    assert isinstance(build, dict), f"{name} has no build section"
    args = build.get("args", {})
    assert isinstance(args, dict), f"{name}'s build args must be a mapping"
    return {str(k): str(v) for k, v in args.items()}


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, f"{dockerfile} ends inside a continued line"
    return instructions


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, "no FROM"
    return instructions[starts[-1] :]


def _expand(text: str, variables: dict[str, str]) -> str:
    """`${NAME}` and `$NAME` replaced as Docker (build time) or the shell (run time) would;
    unknown names are left as they are."""
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: variables.get(m[1] or m[2], m[0]),
        text,
    )


def _runtime_stage(
    compose: dict[str, Any], name: str
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The final stage's instructions as compose builds `name` (its build args given to the
    stage's ARGs, variables expanded where Docker expands them), and the image's environment."""
    given = _build_args(compose, name)
    variables: dict[str, str] = {}
    environment: dict[str, str] = {}
    stage: list[tuple[str, str]] = []
    for keyword, args in _final_stage(_instructions(_dockerfile_path(compose, name))):
        if keyword == "ARG":
            key, _, default = args.partition("=")
            variables[key] = given.get(key, default)
        elif keyword == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                environment[key] = variables[key] = _expand(value, variables)
        if keyword in ("ENV", "EXPOSE", "USER", "WORKDIR", "COPY", "FROM"):
            args = _expand(args, variables)
        stage.append((keyword, args))
    return stage, environment


def _python_code(command: str) -> str:
    """The code of an exec-form `["python", "-c", code]`."""
    words = json.loads(command)
    assert words[:2] == ["python", "-c"], f"not python -c: {words}"
    return str(words[2])


# --------------------------------------------------------------------------- services and images


def test_compose_has_the_three_services_and_their_infrastructure(
    compose: dict[str, Any],
) -> None:
    services = compose.get("services", {})
    missing = {*SERVICES, *INFRASTRUCTURE} - set(services)
    assert not missing, f"docker-compose.yml lacks {sorted(missing)}"


@pytest.mark.parametrize("name", [*SERVICES, "audit-migrate"])
def test_service_is_built_from_the_one_dockerfile(compose: dict[str, Any], name: str) -> None:
    build = _service(compose, name).get("build")
    assert isinstance(build, dict), f"{name} must be built (build: context + dockerfile)"
    context = (COMPOSE_FILE.parent / str(build.get("context", "."))).resolve()
    assert context == ROOT, f"{name}'s build context must be the repository root, not {context}"
    assert _dockerfile_path(compose, name) == DOCKERFILE, f"{name} is not built from {DOCKERFILE}"
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} does not exist"


def test_no_service_has_a_dockerfile_of_its_own() -> None:
    stray = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("services/**/Dockerfile*"))
    assert not stray, f"the services' images are built from {DOCKERFILE.name} only: {stray}"


@pytest.mark.parametrize("name", SERVICES)
def test_compose_names_the_service_and_its_port_in_the_build_args(
    compose: dict[str, Any], name: str
) -> None:
    port = SETTINGS[name].model_fields["http_port"].default
    assert _build_args(compose, name) == {"SERVICE": name, "HTTP_PORT": str(port)}


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_cmd_runs_the_service_module(compose: dict[str, Any], name: str) -> None:
    stage, environment = _runtime_stage(compose, name)
    cmds = [args for keyword, args in stage if keyword == "CMD"]
    assert cmds, f"{name}'s image has no CMD"
    command = json.loads(cmds[-1])
    if command[:2] == ["sh", "-c"]:  # the shell expands the image's environment, then execs
        words = shlex.split(_expand(command[2], environment))
        assert words[0] == "exec", f"{name}: the shell does not exec the service: {command}"
        command = words[1:]
    assert command == ["python", "-m", f"services.{name}"]


def test_dockerfile_default_service_is_needs() -> None:
    defaults = dict(
        args.partition("=")[::2]
        for keyword, args in _final_stage(_instructions(DOCKERFILE))
        if keyword == "ARG"
    )
    port = SETTINGS["needs"].model_fields["http_port"].default
    assert (defaults.get("SERVICE"), defaults.get("HTTP_PORT")) == ("needs", str(port))


@pytest.mark.parametrize("name", SERVICES)
def test_the_build_refuses_a_port_other_than_the_services_default(
    compose: dict[str, Any], name: str
) -> None:
    """The runtime stage's `RUN python -c` check, run here as the build would run it."""
    stage, environment = _runtime_stage(compose, name)
    checks = [
        args
        for keyword, args in stage
        if keyword == "RUN" and "SECONDMENT_DEFAULT_HTTP_PORT" in args
    ]
    assert len(checks) == 1, f"{name}'s runtime stage does not check SERVICE and HTTP_PORT"
    code = shlex.split(checks[0])[2]
    with mock.patch.dict(os.environ, environment, clear=True):
        exec(code, {})  # passes as compose builds it
        os.environ["SECONDMENT_DEFAULT_HTTP_PORT"] = "1"
        with pytest.raises(SystemExit, match="HTTP_PORT"):
            exec(code, {})


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_is_multi_stage_on_python_slim(compose: dict[str, Any], name: str) -> None:
    instructions = _instructions(_dockerfile_path(compose, name))
    stages: list[str] = []
    for keyword, args in instructions:
        if keyword != "FROM":
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        image = words[0].split("@")[0]  # the digest: tests/unit/test_supply_chain.py
        assert image == BASE_IMAGE or image in stages, f"{name}: FROM {image}, not {BASE_IMAGE}"
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.append(words[2])
    assert len(stages) >= 2, f"{name}'s Dockerfile must have named build and runtime stages"
    copies = [args for keyword, args in _final_stage(instructions) if keyword == "COPY"]
    assert any(c.startswith(f"--from={stages[0]} ") for c in copies), (
        f"{name}'s runtime stage must copy the build stage's result"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_installs_the_project_without_dev_extras(
    compose: dict[str, Any], name: str
) -> None:
    instructions = _instructions(_dockerfile_path(compose, name))
    copied = " ".join(args for keyword, args in instructions if keyword == "COPY")
    for source in ("pyproject.toml", "shared/", "services/"):
        assert source in copied, f"{name}'s Dockerfile does not copy {source}"
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any(re.search(r"pip install (\S+ )*\.(\s|$)", run) for run in runs), (
        f"{name}'s Dockerfile does not `pip install .`"
    )
    assert not any("[dev]" in run or " -e " in run for run in runs), "dev extras or editable"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_runs_as_a_non_root_user(compose: dict[str, Any], name: str) -> None:
    users = [args for keyword, args in _runtime_stage(compose, name)[0] if keyword == "USER"]
    assert users, f"{name}'s runtime stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"{name} runs as root"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_exposes_the_default_http_port(compose: dict[str, Any], name: str) -> None:
    port = SETTINGS[name].model_fields["http_port"].default
    stage, _ = _runtime_stage(compose, name)
    exposed = {
        p.split("/")[0] for keyword, args in stage if keyword == "EXPOSE" for p in args.split()
    }
    assert exposed == {str(port)}, f"{name}'s image exposes {sorted(exposed)}, not {port}"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_healthcheck_gets_healthz_with_urllib(
    compose: dict[str, Any], name: str
) -> None:
    """The image's HEALTHCHECK, run here with urllib's urlopen recorded: it gets /healthz on
    the service's default port, or on the one its `<PREFIX>HTTP_PORT` sets."""
    port = SETTINGS[name].model_fields["http_port"].default
    stage, environment = _runtime_stage(compose, name)
    checks = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert checks, f"{name}'s Dockerfile has no HEALTHCHECK"
    options, _, command = checks[-1].partition(" CMD ")
    assert command, f"{name}'s HEALTHCHECK runs no command"
    assert "--start-period" in options, f"{name}'s HEALTHCHECK gives no time to migrate"
    code = _python_code(command)
    assert "urllib.request" in code, f"{name}'s HEALTHCHECK does not use python's urllib"
    urls: list[str] = []
    with (
        mock.patch.dict(os.environ, environment, clear=True),
        mock.patch("urllib.request.urlopen", lambda url, timeout: urls.append(url)),
    ):
        exec(code, {})
        os.environ[f"{env_prefix(SETTINGS[name])}HTTP_PORT"] = "9999"
        exec(code, {})
    assert urls == [f"http://127.0.0.1:{port}/healthz", "http://127.0.0.1:9999/healthz"]


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    assert DOCKERIGNORE.is_file(), ".dockerignore is missing"
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    missing = {".venv", "var", ".git", "tests"} - patterns
    assert not missing, f".dockerignore does not exclude {sorted(missing)}"
    kept = {"pyproject.toml", "shared", "services"} & patterns
    assert not kept, f".dockerignore excludes {sorted(kept)}, which the images need"


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("name", SERVICES)
def test_every_environment_variable_is_a_settings_field(compose: dict[str, Any], name: str) -> None:
    settings = SETTINGS[name]
    known = known_variables(name)
    unknown = set(_environment(_service(compose, name))) - known
    assert not unknown, (
        f"{name} is given {sorted(unknown)}, which {settings.__name__} does not read "
        f"(it reads {sorted(known)})"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_settings_without_a_container_default_are_given(compose: dict[str, Any], name: str) -> None:
    settings = SETTINGS[name]
    prefix = env_prefix(settings)
    env = _environment(_service(compose, name))
    for field in REQUIRED_IN_CONTAINERS:
        assert field in settings.model_fields, f"{settings.__name__} has no field {field}"
        assert env.get(prefix + field.upper()), f"{name} is not given {prefix}{field.upper()}"


@pytest.mark.parametrize("name", SERVICES)
def test_environment_is_valid_for_the_settings_class(compose: dict[str, Any], name: str) -> None:
    _settings_from_compose(compose, name)  # raises ValidationError on e.g. a non-integer port


@pytest.mark.parametrize("name", SERVICES)
def test_service_uses_the_compose_kafka_and_postgres(compose: dict[str, Any], name: str) -> None:
    settings = _settings_from_compose(compose, name)
    url = make_url(str(settings["database_url"]))
    assert url.drivername == "postgresql+asyncpg", f"{name}: {url.drivername}, not asyncpg"
    assert url.host == "postgres", f"{name}'s database is on {url.host}, not the postgres service"
    assert settings["kafka_bootstrap"] == KAFKA_IN_NETWORK


def test_each_service_has_its_own_database(compose: dict[str, Any]) -> None:
    names = {
        name: _database_name(str(_settings_from_compose(compose, name)["database_url"]))
        for name in SERVICES
    }
    assert len(set(names.values())) == len(names), f"services share a database: {names}"


def test_the_three_services_share_one_audit_store_on_the_compose_postgres(
    compose: dict[str, Any],
) -> None:
    urls = {str(_settings_from_compose(compose, name)["audit_database_url"]) for name in SERVICES}
    assert len(urls) == 1, f"the services audit to different stores: {sorted(urls)}"
    url = make_url(urls.pop())
    assert (url.drivername, url.host) == ("postgresql+asyncpg", "postgres")
    services = {
        _database_name(str(_settings_from_compose(compose, n)["database_url"])) for n in SERVICES
    }
    assert url.database not in services, "the audit store shares a service's database"


@pytest.mark.parametrize("name", SERVICES)
def test_published_port_is_the_settings_http_port(compose: dict[str, Any], name: str) -> None:
    port = _settings_from_compose(compose, name)["http_port"]
    ports = _published_ports(_service(compose, name))
    assert (port, port) in ports, f"{name} listens on {port} but publishes {ports}"


# --------------------------------------------------------------------------- health and order


@pytest.mark.parametrize("name", [*SERVICES, *INFRASTRUCTURE])
def test_service_has_a_healthcheck(compose: dict[str, Any], name: str) -> None:
    _healthcheck_command(_service(compose, name))


@pytest.mark.parametrize("name", SERVICES)
def test_service_healthcheck_gets_its_healthz(compose: dict[str, Any], name: str) -> None:
    port = _settings_from_compose(compose, name)["http_port"]
    command = _healthcheck_command(_service(compose, name))
    assert f":{port}/healthz" in command, f"{name}'s healthcheck does not get :{port}/healthz"


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_healthy_kafka_and_postgres(compose: dict[str, Any], name: str) -> None:
    depends_on = _service(compose, name).get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on must be a mapping with conditions"
    for dependency in INFRASTRUCTURE:
        condition = depends_on.get(dependency, {}).get("condition")
        assert condition == "service_healthy", f"{name} does not wait for a healthy {dependency}"


# --------------------------------------------------------------------------- Kafka and PostgreSQL


def test_kafka_image_is_apache_kafka(compose: dict[str, Any]) -> None:
    image = str(_service(compose, "kafka").get("image", "")).split("@")[0]
    assert image.startswith("apache/kafka:"), f"kafka runs {image!r}, not apache/kafka"
    if KAFKA_ADR.is_file():
        pinned = re.findall(r"apache/kafka:([\w.\-]+)", KAFKA_ADR.read_text(encoding="utf-8"))
        if pinned:
            assert image == f"apache/kafka:{pinned[0]}", f"ADR 0002 pins apache/kafka:{pinned[0]}"


def test_kafka_is_a_single_kraft_node_with_in_network_and_host_listeners(
    compose: dict[str, Any],
) -> None:
    kafka = _service(compose, "kafka")
    env = _environment(kafka)
    assert set(env.get("KAFKA_PROCESS_ROLES", "").split(",")) == {"broker", "controller"}
    advertised = env.get("KAFKA_ADVERTISED_LISTENERS", "")
    for address in (KAFKA_IN_NETWORK, KAFKA_FROM_HOST):
        assert f"://{address}" in advertised, f"kafka does not advertise {address}"
    assert (KAFKA_HOST_PORT, KAFKA_HOST_PORT) in _published_ports(kafka)


def test_kafka_has_three_partitions_and_unlimited_retention(compose: dict[str, Any]) -> None:
    env = _environment(_service(compose, "kafka"))
    assert env.get("KAFKA_NUM_PARTITIONS") == "3"
    assert env.get("KAFKA_LOG_RETENTION_MS") == "-1"


def test_kafka_healthcheck_asks_the_broker(compose: dict[str, Any]) -> None:
    command = _healthcheck_command(_service(compose, "kafka"))
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in command


def test_postgres_is_postgres_15_with_pg_isready(compose: dict[str, Any]) -> None:
    postgres = _service(compose, "postgres")
    assert str(postgres.get("image")).split("@")[0] == "postgres:15"
    assert "pg_isready" in _healthcheck_command(postgres)


# --------------------------------------------------------------------------- Kafka security

KAFKA_SCRIPTS = ROOT / "deploy" / "kafka"


def _substituted(value: str) -> str:
    """Compose's `${VARIABLE:-default}` with nothing set in the environment: the default."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", value)


def _variables(value: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", value))


def _mounted(service: dict[str, Any], target: str) -> Path | None:
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if rest.split(":")[0] == target:
            return (COMPOSE_FILE.parent / source).resolve()
    return None


def _scram_users(compose: dict[str, Any]) -> dict[str, str]:
    """The broker's SCRAM users, created when its volume is formatted: name -> raw password."""
    env = _environment(_service(compose, "kafka"))
    users = dict(re.findall(r"([^\s:]+):(\$\{[^}]*\}|\S+)", env["SECONDMENT_KAFKA_SCRAM_USERS"]))
    users["admin"] = env["SECONDMENT_KAFKA_ADMIN_PASSWORD"]
    return users


def test_kafka_authenticates_every_listener_and_denies_by_default(compose: dict[str, Any]) -> None:
    env = _environment(_service(compose, "kafka"))
    listeners = dict(
        pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert all(p.startswith("SASL_") for p in listeners.values()), f"unauthenticated: {listeners}"
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith(".StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:admin"


def test_kafka_starts_through_the_broker_script(compose: dict[str, Any]) -> None:
    kafka = _service(compose, "kafka")
    command = kafka.get("command")
    assert isinstance(command, list)
    mounted = _mounted(kafka, "/opt/secondment/kafka")
    assert mounted == KAFKA_SCRIPTS.resolve(), "deploy/kafka is not mounted in the broker"
    script = command[-1]
    assert script.startswith("/opt/secondment/kafka/")
    assert (KAFKA_SCRIPTS / Path(script).name).is_file(), f"{script} is not in deploy/kafka"
    # The healthcheck authenticates with the client config the script writes.
    assert "--command-config /tmp/secondment-kafka/admin.properties" in _healthcheck_command(kafka)
    text = (KAFKA_SCRIPTS / Path(script).name).read_text(encoding="utf-8")
    assert 'CONFIG_DIR="${SECONDMENT_KAFKA_CONFIG_DIR:-/tmp/secondment-kafka}"' in text
    assert '"${CONFIG_DIR}/admin.properties"' in text


def test_acls_are_granted_before_the_services_start(compose: dict[str, Any]) -> None:
    acls = _service(compose, "kafka-acls")
    assert _mounted(acls, "/opt/secondment/kafka") == KAFKA_SCRIPTS.resolve()
    assert acls["command"][-2:] == ["/opt/secondment/kafka/acls.sh", "services"]
    assert acls["depends_on"]["kafka"]["condition"] == "service_healthy"
    env = _environment(acls)
    assert env["KAFKA_BOOTSTRAP"] == KAFKA_IN_NETWORK
    assert (
        env["KAFKA_ADMIN_PASSWORD"]
        == _environment(_service(compose, "kafka"))["SECONDMENT_KAFKA_ADMIN_PASSWORD"]
    )
    for name in SERVICES:
        condition = _service(compose, name)["depends_on"]["kafka-acls"]["condition"]
        assert condition == "service_completed_successfully", f"{name} starts before its ACLs"


@pytest.mark.parametrize("name", SERVICES)
def test_service_authenticates_as_its_own_scram_user(compose: dict[str, Any], name: str) -> None:
    settings = _settings_from_compose(compose, name)
    assert settings["kafka_security_protocol"] == "SASL_PLAINTEXT"
    assert settings["kafka_sasl_mechanism"] == "SCRAM-SHA-512"
    assert settings["kafka_username"] == name, "acls.sh grants the principal User:<service>"
    password = settings["kafka_password"].get_secret_value()
    users = _scram_users(compose)
    assert name in users, f"the broker does not create the SCRAM user {name}"
    # The same variable (or, when it is unset, the same default) on both sides.
    assert _variables(password) == _variables(users[name])
    assert _substituted(password) == _substituted(users[name])
