"""A deployment's PostgreSQL roles on the real server (issue 15, item 11).

`deploy/postgres/init/01-roles-and-databases.sh` runs as the postgres image runs it (as the
superuser, every password from the environment), under a prefix of its own so nothing else on
the test server is touched. Then: each service's role owns its database and cannot even open
another's; the audit store, migrated by its owner with `python -m shared.infra.audit_migrate`
(compose's one-off step), is written by the services' audit role, which can append and read
entries and nothing else: no UPDATE, DELETE, TRUNCATE, trigger or schema change.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped, unused-ignore]
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from services.needs.bootstrap import MIGRATIONS as NEEDS_MIGRATIONS
from services.placement.bootstrap import MIGRATIONS as PLACEMENT_MIGRATIONS
from services.reporting.bootstrap import MIGRATIONS as REPORTING_MIGRATIONS
from shared.infra.audit import AuditLog
from shared.infra.audit_entries import AuditRecord, Category, Channel, Outcome
from shared.infra.migrations import upgrade_to_head
from tests.infra import REPO_ROOT, drop_database, unique_name

pytestmark = pytest.mark.integration

INIT_SCRIPT = REPO_ROOT / "deploy" / "postgres" / "init" / "01-roles-and-databases.sh"
MIGRATIONS: dict[str, Path] = {
    "needs": NEEDS_MIGRATIONS,
    "placement": PLACEMENT_MIGRATIONS,
    "reporting": REPORTING_MIGRATIONS,
}
SERVICES = sorted(MIGRATIONS)
DATABASES = (*SERVICES, "audit")
ROLES = (*DATABASES, "audit_writer")
REFUSED = r"permission denied for (table|schema|sequence)|must be owner"
"""PostgreSQL's privilege refusals (the append-only triggers say something else)."""


@dataclass(frozen=True)
class Deployment:
    """The roles and databases the script made: names under `prefix`, their passwords."""

    pg_dsn: str
    prefix: str
    passwords: dict[str, str]

    def name(self, role_or_database: str) -> str:
        return f"{self.prefix}{role_or_database}"

    def url(self, role: str, database: str) -> str:
        """The SQLAlchemy URL a service would be given: `role` on `database`."""
        return (
            make_url(self.pg_dsn)
            .set(
                username=self.name(role),
                password=self.passwords[role],
                database=self.name(database),
            )
            .render_as_string(hide_password=False)
        )

    async def connect(self, role: str, database: str) -> asyncpg.Connection:
        url = make_url(self.pg_dsn)
        return await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=self.name(role),
            password=self.passwords[role],
            database=self.name(database),
        )


def _run_init_script(pg_dsn: str, prefix: str, passwords: dict[str, str]) -> str:
    psql = shutil.which("psql")
    assert psql, "psql is needed (apt-get install postgresql-client)"
    admin = make_url(pg_dsn)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "POSTGRES_"))}
    env |= {
        "PGHOST": str(admin.host),
        "PGPORT": str(admin.port or 5432),
        "PGUSER": str(admin.username),
        "PGPASSWORD": str(admin.password or ""),
        "PGDATABASE": str(admin.database or "postgres"),
        "SECONDMENT_DB_PREFIX": prefix,
        **{f"{role.upper()}_DB_PASSWORD": password for role, password in passwords.items()},
    }
    done = subprocess.run(
        ["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def passwords() -> dict[str, str]:
    return {role: secrets.token_hex(16) for role in ROLES}


@pytest.fixture(scope="module")
async def deployment(pg_dsn: str, passwords: dict[str, str]) -> AsyncIterator[Deployment]:
    prefix = unique_name("roles") + "_"
    try:
        # Twice: an operator may run it again on an existing server (it is idempotent).
        for _ in range(2):
            out = await asyncio.to_thread(_run_init_script, pg_dsn, prefix, passwords)
        assert "are in place" in out
        yield Deployment(pg_dsn, prefix, passwords)
    finally:
        for database in (*DATABASES, "placement_vault"):
            await drop_database(pg_dsn, f"{prefix}{database}")
        engine = create_async_engine(pg_dsn, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                for role in ROLES:
                    await conn.execute(text(f'DROP ROLE IF EXISTS "{prefix}{role}"'))
        finally:
            await engine.dispose()


def _entry(action: str) -> AuditRecord:
    return AuditRecord(
        channel=Channel.HTTP,
        agency="SO_Y_TE",
        subject="someone@so-y-te",
        action=action,
        category=Category.COMMAND,
        outcome=Outcome.ACCEPTED,
        status=201,
        route="POST /api/needs",
        records=(("need", "n-1"),),
    )


def test_the_script_refuses_to_run_without_a_password(pg_dsn: str) -> None:
    given = {role: "x" for role in ROLES if role != "audit_writer"}
    with pytest.raises(AssertionError, match="set AUDIT_WRITER_DB_PASSWORD"):
        _run_init_script(pg_dsn, unique_name("roles") + "_", given)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_role_owns_its_database_and_cannot_open_another(
    deployment: Deployment, service: str
) -> None:
    # Its own database: it runs its migrations there, as it does at start.
    engine = create_async_engine(deployment.url(service, service))
    try:
        await upgrade_to_head(engine, MIGRATIONS[service])
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM event_store")) == 0
    finally:
        await engine.dispose()

    for other in DATABASES:
        if other == service:
            continue
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await deployment.connect(service, other)

    # Each role has its own password: another role's does not open this one.
    other_password = deployment.passwords["audit_writer"]
    wrong = Deployment(deployment.pg_dsn, deployment.prefix, {service: other_password})
    with pytest.raises(asyncpg.InvalidPasswordError):
        await wrong.connect(service, service)


async def test_the_audit_role_appends_and_reads_but_cannot_change_or_remove_entries(
    deployment: Deployment,
) -> None:
    for database in SERVICES:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await deployment.connect("audit_writer", database)

    # The deployment's one-off step: the owner migrates the store.
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shared.infra.audit_migrate"],
        env=os.environ | {"AUDIT_DATABASE_URL": deployment.url("audit", "audit")},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert deployment.passwords["audit"] not in migrated.stdout + migrated.stderr

    # A service, as it starts and runs: finds the store at head, appends, reads.
    log = AuditLog(deployment.url("audit_writer", "audit"))
    try:
        await log.start()
        first = await log.record(_entry("RaiseNeed"))
        await log.record(_entry("AmendNeed"))
        assert [e.action for e in await log.entries(record="n-1")] == ["RaiseNeed", "AmendNeed"]

        for statement in (
            "UPDATE audit_log SET agency = 'NAM_GIANG'",
            f"DELETE FROM audit_log WHERE position = {first}",
            "UPDATE audit_records SET record_id = 'x'",
            "DELETE FROM audit_records",
            "TRUNCATE audit_log CASCADE",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
            "DROP TRIGGER audit_log_append_only ON audit_log",
            "DROP TABLE audit_records",
            "CREATE TABLE audit_log_copy (position bigint)",
            "INSERT INTO alembic_version_audit VALUES ('zzzz')",
            "DELETE FROM alembic_version_audit",
            "SELECT setval('audit_log_position_seq', 1)",
        ):
            async with log.engine.begin() as conn:
                with pytest.raises(DBAPIError, match=REFUSED):
                    await conn.execute(text(statement))

        async with log.engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM audit_log")) == 2
            assert await conn.scalar(text("SELECT count(*) FROM audit_records")) == 2
            assert await conn.scalar(text("SELECT version_num FROM alembic_version_audit"))
    finally:
        await log.stop()
