"""A service on a server database refuses to start without its secrets (issue 15, item 11).

Only the embedded/dev shape (SQLite files) may run without them. Elsewhere a missing programme
key would stall every consumer on the first sealed event, a missing master key would refuse
every secondment at run time, and a missing audit URL would audit to a SQLite file inside the
container: `python -m services.<name>` exits at once instead, naming what is missing (never a
value), before it touches the database or Kafka.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "127.0.0.1:9"
"""The discard port: nothing answers, so a service that does not refuse waits there."""
DB_PASSWORD = "db-password-not-to-be-shown"
REQUIRED = {
    "needs": ("PROGRAMME_KEY", "AUDIT_DATABASE_URL"),
    "placement": ("PROGRAMME_KEY", "MASTER_KEY", "AUDIT_DATABASE_URL"),
    "reporting": ("PROGRAMME_KEY", "AUDIT_DATABASE_URL"),
}


def _environment(service: str, **settings: str) -> dict[str, str]:
    """The process's environment: no settings of any service but these."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEEDS_", "PLACEMENT_", "REPORTING_", "AUDIT_"))
    }
    prefix = service.upper() + "_"
    return env | {prefix + k: v for k, v in settings.items()}


def _server_database(service: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"postgresql+asyncpg://{service}:{DB_PASSWORD}@{UNREACHABLE}/{service}",
        "KAFKA_BOOTSTRAP": UNREACHABLE,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": "0",
    }


@pytest.mark.parametrize("service", sorted(REQUIRED))
def test_a_service_on_a_server_database_refuses_to_start_without_its_secrets(
    service: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env=_environment(service, **_server_database(service)) | {"PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert time.monotonic() - started < 30, "it tried to reach the database or Kafka first"
    for name in REQUIRED[service]:
        assert f"{service.upper()}_{name}" in done.stderr, done.stderr
    assert DB_PASSWORD not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, "a refusal is a message, not a crash"
    assert not (tmp_path / "var").exists(), "it wrote a SQLite audit store before refusing"


def test_a_service_with_its_secrets_gets_past_the_check(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    settings = _server_database("placement") | {
        "PROGRAMME_KEY": key,
        "MASTER_KEY": key,
        "AUDIT_DATABASE_URL": f"postgresql+asyncpg://audit_writer:x@{UNREACHABLE}/audit",
        "KAFKA_ALLOW_PLAINTEXT": "true",
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.placement"],
        env=_environment("placement", **settings) | {"PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # It started, and stopped only because nothing answers at the audit store's address.
    assert "Waiting for application startup" in done.stderr, done.stderr
    assert "not starting" not in done.stderr


def test_a_service_on_a_server_database_refuses_unauthenticated_kafka(tmp_path: Path) -> None:
    """Kafka PLAINTEXT is the dev shape's: deployed, a service will not start on it unless
    told that the broker is a development one."""
    key = base64.b64encode(os.urandom(32)).decode()
    settings = _server_database("needs") | {
        "PROGRAMME_KEY": key,
        "AUDIT_DATABASE_URL": f"postgresql+asyncpg://audit_writer:x@{UNREACHABLE}/audit",
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.needs"],
        env=_environment("needs", **settings) | {"PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "NEEDS_KAFKA_SECURITY_PROTOCOL is PLAINTEXT" in done.stderr, done.stderr
    assert "NEEDS_KAFKA_ALLOW_PLAINTEXT" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_reporting_rebuild_from_kafka_refuses_unauthenticated_kafka_too(
    tmp_path: Path,
) -> None:
    """The rebuild reads both event topics whole: on a server database it is held to the same
    rule as the service, before it touches the database or Kafka."""
    done = subprocess.run(
        [sys.executable, "-m", "services.reporting", "rebuild"],
        env=_environment("reporting", **_server_database("reporting")) | {"PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "REPORTING_KAFKA_SECURITY_PROTOCOL is PLAINTEXT" in done.stderr, done.stderr
    assert "REPORTING_KAFKA_ALLOW_PLAINTEXT" in done.stderr
    assert "Traceback" not in done.stderr
    assert DB_PASSWORD not in done.stdout + done.stderr
