"""`python -m services.<name> migrate`: a deployment's migration step (the Kubernetes init
containers run it) brings the service's databases to head and exits, without Kafka."""

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.infra import create_database, drop_database, unique_name

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "127.0.0.1:9"
"""No Kafka answers there (and plaintext is not allowed): migrating must not need it."""


@pytest.fixture
async def databases(pg_dsn: str) -> AsyncIterator[dict[str, str]]:
    names = {part: unique_name(f"mig_{part}") for part in ("service", "vault", "audit")}
    urls = {part: await create_database(pg_dsn, name) for part, name in names.items()}
    try:
        yield urls
    finally:
        for name in names.values():
            await drop_database(pg_dsn, name)


async def tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return {r[0] for r in rows}
    finally:
        await engine.dispose()


def migrate(service: str, urls: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    key = base64.b64encode(os.urandom(32)).decode()
    prefix = service.upper() + "_"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEEDS_", "PLACEMENT_", "REPORTING_", "AUDIT_"))
    }
    env |= {
        prefix + "DATABASE_URL": urls["service"],
        prefix + "KAFKA_BOOTSTRAP": UNREACHABLE,
        prefix + "PROGRAMME_KEY": key,
        prefix + "AUDIT_DATABASE_URL": urls["audit"],
        "PLACEMENT_MASTER_KEY": key,
        "PLACEMENT_VAULT_URL": urls["vault"],
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("service", ["needs", "placement", "reporting"])
async def test_migrate_brings_the_databases_to_head_and_exits_without_kafka(
    service: str, databases: dict[str, str], tmp_path: Path
) -> None:
    done = await asyncio.to_thread(migrate, service, databases, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    made = await tables(databases["service"])
    assert "alembic_version" in made
    if service != "reporting":
        assert {"event_store", "outbox", "command_answers"} <= made, made
    if service == "placement":
        assert "official_keys" in await tables(databases["vault"])
    # Run again (every replica's init container does): nothing to do, still a success.
    again = await asyncio.to_thread(migrate, service, databases, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]


def test_an_unknown_command_is_refused_with_the_usage(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.needs", "migrat"],
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "serve | migrate" in done.stderr
