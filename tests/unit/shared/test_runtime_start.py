"""A replica started while its PostgreSQL restarts waits for it instead of exiting (found by
the fault suite: replicas started during a restart died on CannotConnectNowError and had to
be restarted by the orchestrator), and still fails at once on an error waiting cannot cure."""

import base64
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from services.needs.adapters.tables import core
from services.placement.adapters.vault import KeyVault
from services.placement.config import PlacementSettings
from shared.infra import migrations
from shared.infra.audit import AuditLog
from shared.infra.runtime import ServiceRuntime
from shared.infra.transport import InProcessBus

MIGRATIONS = Path("services/needs/migrations")


def _runtime(tmp_path: Path) -> ServiceRuntime:
    return ServiceRuntime(
        name="needs",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'needs.db'}",
        migrations=MIGRATIONS,
        tables=core,
        publisher=InProcessBus().publisher(),
    )


def _failing(errors: list[Exception], calls: list[int]) -> Any:
    async def upgrade(*_: object, **__: object) -> None:
        calls.append(1)
        if errors:
            raise errors.pop(0)

    return upgrade


async def test_a_database_starting_up_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starting = sa_exc.OperationalError("connect", {}, Exception("the database is starting up"))
    calls: list[int] = []
    monkeypatch.setattr(migrations, "upgrade_to_head", _failing([starting, starting], calls))
    await _runtime(tmp_path).migrate(within=10)
    assert len(calls) == 3


async def test_a_database_down_for_longer_than_allowed_fails_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = [ConnectionRefusedError(111, "refused")] * 20
    monkeypatch.setattr(migrations, "upgrade_to_head", _failing(list(refused), []))
    with pytest.raises(ConnectionRefusedError):
        await _runtime(tmp_path).migrate(within=1)


async def test_a_broken_migration_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    broken = sa_exc.ProgrammingError("ALTER TABLE", {}, Exception("syntax error"))
    monkeypatch.setattr(migrations, "upgrade_to_head", _failing([broken], calls))
    with pytest.raises(sa_exc.ProgrammingError):
        await _runtime(tmp_path).migrate(within=30)
    assert len(calls) == 1


async def test_the_audit_store_and_the_key_vault_wait_for_their_database_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the fault suite: a reporting replica restarted while PostgreSQL was starting up
    exited on the audit store's migration (`CannotConnectNowError`)."""
    starting = sa_exc.OperationalError("connect", {}, Exception("the database is starting up"))
    calls: list[int] = []
    monkeypatch.setattr(migrations, "upgrade_to_head", _failing([starting, starting], calls))
    audit = AuditLog(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    await audit.start()
    await audit.stop()
    assert len(calls) == 3
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    settings = PlacementSettings(
        vault_url=f"sqlite+aiosqlite:///{tmp_path / 'v.db'}", master_key=key
    )
    masters = settings.master_keys()
    assert masters is not None
    vault = KeyVault.open(settings.vault_database_url(), masters)
    calls.clear()
    monkeypatch.setattr(migrations, "upgrade_to_head", _failing([starting], calls))
    await vault.migrate()
    await vault.close()
    assert len(calls) == 2
