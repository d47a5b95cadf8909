"""Pytest plugin: real Kafka and PostgreSQL for integration tests.

Register with ``pytest_plugins = ["tests.infra"]``. Session fixtures ``kafka_bootstrap``
(``"host:port"``) and ``pg_dsn`` (SQLAlchemy admin URL, ``postgresql+asyncpg://...``) are
resolved in this order, and never skipped:

1. the environment: ``SECONDMENT_TEST_KAFKA_BOOTSTRAP`` / ``SECONDMENT_TEST_PG_DSN``
   (``.ci/run`` sets both; ``SECONDMENT_TEST_KAFKA_VERSION`` optionally names the version);
2. Docker through testcontainers, if a Docker engine answers (``SECONDMENT_TEST_NO_DOCKER=1``
   turns this off);
3. the local binaries through ``deploy/local/kafka.sh`` (Java 17 + Maven; broker in a temporary
   data dir on free ports, stopped at session end) and ``deploy/local/postgres.sh`` (Debian
   PostgreSQL cluster on port 55432, reused if already running, stopped only if started here).

Anything else fails the session with a message saying what to install.

``secure_kafka`` is a second broker that authenticates (SASL/SCRAM-SHA-512) and authorizes
(ACLs, deny by default): ``SECONDMENT_TEST_SECURE_KAFKA_BOOTSTRAP`` if set (a broker started by
``KAFKA_SECURE=1 deploy/local/kafka.sh start``, with its default passwords unless
``SECONDMENT_TEST_SECURE_KAFKA_ADMIN_PASSWORD`` says otherwise), else that script on free ports
in a temporary data dir, stopped at session end. Never skipped either.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ENV_KAFKA = "SECONDMENT_TEST_KAFKA_BOOTSTRAP"
ENV_KAFKA_VERSION = "SECONDMENT_TEST_KAFKA_VERSION"
ENV_PG = "SECONDMENT_TEST_PG_DSN"
ENV_NO_DOCKER = "SECONDMENT_TEST_NO_DOCKER"
ENV_SECURE_KAFKA = "SECONDMENT_TEST_SECURE_KAFKA_BOOTSTRAP"
ENV_SECURE_KAFKA_ADMIN_PASSWORD = "SECONDMENT_TEST_SECURE_KAFKA_ADMIN_PASSWORD"

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO_ROOT / "deploy" / "local" / "kafka.sh"
POSTGRES_SH = REPO_ROOT / "deploy" / "local" / "postgres.sh"
ACLS_SH = REPO_ROOT / "deploy" / "kafka" / "acls.sh"
#: The SCRAM users `KAFKA_SECURE=1 deploy/local/kafka.sh start` creates by default.
SECURE_KAFKA_ADMIN_PASSWORD = "admin-secret"
SECURE_KAFKA_SERVICE_PASSWORDS = {
    "needs": "needs-secret",
    "placement": "placement-secret",
    "reporting": "reporting-secret",
}
LOCAL_PG_DSN = "postgresql://postgres:postgres@127.0.0.1:55432/postgres"
# Docker images, matched to the versions the local scripts run.
KAFKA_IMAGE = os.environ.get("SECONDMENT_TEST_KAFKA_IMAGE", "apache/kafka:4.4.0")
PG_IMAGE = os.environ.get("SECONDMENT_TEST_PG_IMAGE", "postgres:15")

KAFKA_HELP = (
    f"No Kafka broker for the tests. Either set {ENV_KAFKA}=host:port, or run a Docker engine, "
    "or install Java 17+ and Maven (apt-get install -y openjdk-17-jre-headless maven) so that "
    "deploy/local/kafka.sh can download and run the broker."
)
PG_HELP = (
    f"No PostgreSQL for the tests. Either set {ENV_PG}=postgresql://user:pw@host:port/db, or run "
    "a Docker engine, or install PostgreSQL (as root: apt-get install -y postgresql) so that "
    "deploy/local/postgres.sh can run a cluster (it must run as root or postgres)."
)

logger = logging.getLogger(__name__)

#: What the fixtures resolved, printed in the terminal summary (visible in CI logs).
INFRA_INFO: dict[str, str] = {}

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


# --------------------------------------------------------------------------- helpers


def unique_topic(prefix: str = "test") -> str:
    """A topic name no other test (or earlier run against the same broker) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unique_name(prefix: str = "test") -> str:
    """A unique lower-case SQL identifier, e.g. for a per-test database."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}".lower()


def to_asyncpg_url(dsn: str) -> str:
    """``postgresql://`` / ``postgres://`` / ``postgresql+driver://`` -> ``postgresql+asyncpg://``."""
    url = make_url(dsn.replace("postgres://", "postgresql://", 1))
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


async def create_database(pg_dsn: str, name: str) -> str:
    """(Re)create database ``name`` on the server of ``pg_dsn``; return its asyncpg URL."""
    if not _IDENT.match(name):
        raise ValueError(f"database name must match {_IDENT.pattern}: {name!r}")
    admin_url = to_asyncpg_url(pg_dsn)
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            # WITH (FORCE) (PostgreSQL 13+) disconnects leftovers of an earlier run.
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(pg_dsn: str, name: str) -> None:
    """Drop database ``name`` (if it exists) on the server of ``pg_dsn``."""
    if not _IDENT.match(name):
        raise ValueError(f"database name must match {_IDENT.pattern}: {name!r}")
    engine = create_async_engine(to_asyncpg_url(pg_dsn), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _docker_engine_answers() -> bool:
    if os.environ.get(ENV_NO_DOCKER, "") not in ("", "0"):
        return False
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        from testcontainers.core.docker_client import DockerClient

        DockerClient().client.ping()
    except Exception:  # any failure means "no usable engine": fall back to local binaries
        logger.debug("no usable Docker engine", exc_info=True)
        return False
    return True


def _run_script(script: Path, command: str, env: dict[str, str], timeout: float) -> str:
    """Run ``script command``; return stdout, or raise RuntimeError with its output."""
    if shutil.which("bash") is None:
        raise RuntimeError("bash is required to run " + str(script))
    proc = subprocess.run(
        ["bash", str(script), command],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} {command} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout.strip()


# --------------------------------------------------------------------------- Kafka


def _kafka_from_docker() -> Iterator[str]:
    # The official apache/kafka image, configured as a single KRaft node. The host port is
    # fixed (and advertised) because the advertised listener must be known before start.
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    port = _free_port()
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(port, port)
    host = container.get_docker_client().host()
    container.with_envs(
        KAFKA_NODE_ID="1",
        KAFKA_PROCESS_ROLES="broker,controller",
        KAFKA_LISTENERS=f"PLAINTEXT://0.0.0.0:{port},CONTROLLER://localhost:9093",
        KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://{host}:{port}",
        KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
        KAFKA_NUM_PARTITIONS="3",
        KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
        KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS="1",
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR="1",
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR="1",
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
    )
    container.waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(180))
    t0 = time.monotonic()
    container.start()
    try:
        INFRA_INFO["kafka"] = (
            f"Apache Kafka {KAFKA_IMAGE.rpartition(':')[2]} at {host}:{port} "
            f"(Docker {KAFKA_IMAGE}, started in {time.monotonic() - t0:.1f}s)"
        )
        yield f"{host}:{port}"
    finally:
        container.stop()


def _kafka_from_local_jars() -> Iterator[str]:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.fail(KAFKA_HELP + " (java or mvn not found on PATH)", pytrace=False)
    data_dir = tempfile.mkdtemp(prefix="secondment-kafka-")
    port, controller_port = _free_port(), _free_port()
    env = {
        "KAFKA_DATA_DIR": data_dir,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
    }
    t0 = time.monotonic()
    out, error = "", ""
    try:
        _run_script(KAFKA_SH, "install", env, timeout=900)
        out = _run_script(KAFKA_SH, "start", env, timeout=300)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        error = str(exc)
    if error:  # outside the except block, so the failure is not shown as a chained traceback
        shutil.rmtree(data_dir, ignore_errors=True)
        pytest.fail(f"{KAFKA_HELP}\n{error}", pytrace=False)
    version = (Path(data_dir) / "version").read_text().strip()
    INFRA_INFO["kafka"] = (
        f"Apache Kafka {version} at 127.0.0.1:{port} "
        f"(local jars, started in {time.monotonic() - t0:.1f}s: {out.splitlines()[-1]})"
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        try:
            _run_script(KAFKA_SH, "stop", env, timeout=60)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers (``"host:port"``) of a real Kafka broker for this test session."""
    given = os.environ.get(ENV_KAFKA)
    if given:
        version = os.environ.get(ENV_KAFKA_VERSION, "(version not given)")
        INFRA_INFO["kafka"] = f"Apache Kafka {version} at {given} (from ${ENV_KAFKA})"
        yield given
    elif _docker_engine_answers():
        yield from _kafka_from_docker()
    else:
        yield from _kafka_from_local_jars()


# --------------------------------------------------------------------------- secure Kafka


@dataclass(frozen=True)
class SecureKafka:
    """A broker with SASL/SCRAM-SHA-512 and ACLs that deny by default (docs/adr/0003-*.md)."""

    bootstrap: str
    command_config: Path
    """Client config of the super user `admin`, for the Kafka tools and deploy/kafka/acls.sh."""
    passwords: Mapping[str, str] = field(repr=False)
    """SCRAM users and their passwords: admin and the three services."""

    def acls(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
        """Run ``deploy/kafka/acls.sh ARGS`` (what operators run) as admin; return its output."""
        proc = subprocess.run(
            ["bash", str(ACLS_SH), *args],
            env={
                **os.environ,
                "KAFKA_BOOTSTRAP": self.bootstrap,
                "KAFKA_COMMAND_CONFIG": str(self.command_config),
                **(env or {}),
            },
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"acls.sh {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout


def _admin_config(directory: Path, password: str) -> Path:
    path = directory / "admin.properties"
    path.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="admin" password="{password}";\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def _secure_kafka_from_local_jars() -> Iterator[SecureKafka]:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.fail(KAFKA_HELP + " (java or mvn not found on PATH)", pytrace=False)
    data_dir = tempfile.mkdtemp(prefix="secondment-kafka-secure-")
    port, controller_port = _free_port(), _free_port()
    env = {
        "KAFKA_SECURE": "1",
        "KAFKA_DATA_DIR": data_dir,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
        "KAFKA_ADMIN_PASSWORD": SECURE_KAFKA_ADMIN_PASSWORD,
        "KAFKA_SCRAM_USERS": " ".join(
            f"{u}:{p}" for u, p in SECURE_KAFKA_SERVICE_PASSWORDS.items()
        ),
    }
    t0 = time.monotonic()
    error = ""
    try:
        _run_script(KAFKA_SH, "install", env, timeout=900)
        _run_script(KAFKA_SH, "start", env, timeout=300)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        error = str(exc)
    if error:
        shutil.rmtree(data_dir, ignore_errors=True)
        pytest.fail(
            f"Cannot start the SASL/ACL Kafka broker.\n{KAFKA_HELP}\n{error}", pytrace=False
        )
    version = (Path(data_dir) / "version").read_text().strip()
    INFRA_INFO["secure kafka"] = (
        f"Apache Kafka {version} at 127.0.0.1:{port}, SASL_PLAINTEXT SCRAM-SHA-512 + ACLs "
        f"(local jars, started in {time.monotonic() - t0:.1f}s)"
    )
    try:
        yield SecureKafka(
            bootstrap=f"127.0.0.1:{port}",
            command_config=Path(data_dir) / "admin.properties",
            passwords={"admin": SECURE_KAFKA_ADMIN_PASSWORD, **SECURE_KAFKA_SERVICE_PASSWORDS},
        )
    finally:
        try:
            _run_script(KAFKA_SH, "stop", env, timeout=60)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def secure_kafka() -> Iterator[SecureKafka]:
    """A real broker with SASL/SCRAM and deny-by-default ACLs (no ACL granted yet)."""
    given = os.environ.get(ENV_SECURE_KAFKA)
    if not given:
        yield from _secure_kafka_from_local_jars()
        return
    password = os.environ.get(ENV_SECURE_KAFKA_ADMIN_PASSWORD, SECURE_KAFKA_ADMIN_PASSWORD)
    INFRA_INFO["secure kafka"] = f"SASL/ACL Kafka at {given} (from ${ENV_SECURE_KAFKA})"
    with tempfile.TemporaryDirectory(prefix="secondment-secure-kafka-") as directory:
        yield SecureKafka(
            bootstrap=given,
            command_config=_admin_config(Path(directory), password),
            passwords={"admin": password, **SECURE_KAFKA_SERVICE_PASSWORDS},
        )


# --------------------------------------------------------------------------- PostgreSQL


def _pg_from_docker() -> Iterator[str]:
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(
        PG_IMAGE, username="postgres", password="postgres", dbname="postgres", driver="asyncpg"
    )
    t0 = time.monotonic()
    container.start()
    try:
        url = container.get_connection_url()
        INFRA_INFO["postgres"] = (
            f"PostgreSQL at {make_url(url).host}:{make_url(url).port} "
            f"(Docker {PG_IMAGE}, started in {time.monotonic() - t0:.1f}s)"
        )
        yield url
    finally:
        container.stop()


def _pg_from_local_cluster() -> Iterator[str]:
    port = int(os.environ.get("PG_PORT", "55432"))
    dsn = LOCAL_PG_DSN.replace(":55432/", f":{port}/")
    was_running = _port_open("127.0.0.1", port)
    t0 = time.monotonic()
    out, error = "", ""
    try:
        out = _run_script(POSTGRES_SH, "start", {"PG_PORT": str(port)}, timeout=300)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        error = str(exc)
    if error:
        pytest.fail(f"{PG_HELP}\n{error}", pytrace=False)
    INFRA_INFO["postgres"] = (
        f"{out.splitlines()[-1]} ({'already running' if was_running else 'started'} "
        f"in {time.monotonic() - t0:.1f}s)"
    )
    try:
        yield to_asyncpg_url(dsn)
    finally:
        if not was_running:
            _run_script(POSTGRES_SH, "stop", {"PG_PORT": str(port)}, timeout=60)


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """SQLAlchemy admin URL (``postgresql+asyncpg://...``) of a real PostgreSQL server."""
    given = os.environ.get(ENV_PG)
    if given:
        INFRA_INFO["postgres"] = f"PostgreSQL at {make_url(given).host}:{make_url(given).port}"
        yield to_asyncpg_url(given)
    elif _docker_engine_answers():
        yield from _pg_from_docker()
    elif shutil.which("pg_createcluster") or Path("/usr/lib/postgresql").is_dir():
        yield from _pg_from_local_cluster()
    else:
        pytest.fail(PG_HELP, pytrace=False)


# --------------------------------------------------------------------------- reporting


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which Kafka/PostgreSQL the session used (makes CI logs self-explanatory)."""
    if INFRA_INFO:
        terminalreporter.section("test infrastructure")
        for name, info in sorted(INFRA_INFO.items()):
            terminalreporter.write_line(f"{name}: {info}")
