"""The key vault of the embedded default: its own SQLite file in the keys folder beside the
data folder (not in it), nothing of a key left in its files after an erasure, and a
master-key rotation after which only the new master key is needed."""

import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.embedded.app import create_embedded_app, keys_dir, settled
from services.placement.adapters.vault import KeyVault
from services.placement.config import PlacementSettings
from services.placement.rotate_master_key import rotate
from shared.http.tokens import DevIssuer
from shared.infra.db import make_engine
from tests.auth import HOME_SCOPES, HOST_SCOPES, headers
from tests.samples import need_body, official_body, secondment_body

pytestmark = pytest.mark.e2e


@dataclass
class System:
    app: FastAPI
    client: httpx.AsyncClient
    data: Path

    async def second(self, official_id: str) -> str:
        issuer: DevIssuer = self.app.state.dev_issuer
        host = headers("SO_Y_TE", *HOST_SCOPES, issuer=issuer)
        need = await self.client.post("/api/needs", json=need_body(), headers=host)
        await settled(self.app)
        body = secondment_body(
            need.json()["need_id"], official=official_body(official_id=official_id)
        )
        home = headers("NAM_GIANG", *HOME_SCOPES, issuer=issuer)
        made = await self.client.post("/api/secondments", json=body, headers=home)
        assert made.status_code == 201, made.text
        return str(made.json()["secondment_id"])


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
            yield System(app, client, tmp_path / "var")


async def _wrapped(vault_file: Path, official_id: str) -> str:
    engine = make_engine(f"sqlite+aiosqlite:///{vault_file}")
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT wrapped_key FROM official_keys WHERE official_id = :o"),
            {"o": official_id},
        )
    await engine.dispose()
    return str(found)


async def test_keys_live_apart_from_the_data_and_an_erased_one_leaves_no_trace(
    system: System,
) -> None:
    keys = keys_dir(system.data)
    assert keys.parent == system.data.parent
    assert not (system.data / "keys").exists()
    assert not any(
        "master_key" in p.read_text(errors="ignore") for p in system.data.rglob("*.json")
    )
    vault_file = keys / "vault.db"
    await system.second("NG-VAULT")
    wrapped = await _wrapped(vault_file, "NG-VAULT")
    assert wrapped
    for data_file in system.data.rglob("*"):
        if data_file.is_file():
            assert wrapped.encode() not in data_file.read_bytes(), data_file
    dpo = headers("SO_NOI_VU", "personal-data:erase", issuer=system.app.state.dev_issuer)
    erased = await system.client.post("/api/officials/NG-VAULT/erasure", headers=dpo)
    assert erased.status_code == 200, erased.text
    for name in ("vault.db", "vault.db-wal", "vault.db-journal"):
        path = keys / name
        if path.exists():
            assert wrapped.encode() not in path.read_bytes(), name


async def test_after_a_rotation_the_new_master_key_alone_opens_every_identity(
    tmp_path: Path,
) -> None:
    old = base64.urlsafe_b64encode(os.urandom(32)).decode()
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    vault_url = f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}"
    before = PlacementSettings(vault_url=vault_url, master_key=old, master_key_id="m1")
    masters = before.master_keys()
    assert masters is not None
    vault = KeyVault.open(vault_url, masters)
    await vault.migrate()
    keys = {f"NG-{n}": await vault.key_for(f"NG-{n}", create=True) for n in range(7)}
    wrapped = {o: await _wrapped(tmp_path / "vault.db", o) for o in keys}
    await vault.close()

    rotating = PlacementSettings(
        vault_url=vault_url,
        master_key=new,
        master_key_id="m2",
        previous_master_keys=f"m1={old}",
    )
    assert await rotate(rotating) == 7
    assert await rotate(rotating) == 0  # resumable: nothing left to do

    after = PlacementSettings(vault_url=vault_url, master_key=new, master_key_id="m2")
    masters = after.master_keys()
    assert masters is not None
    vault = KeyVault.open(vault_url, masters)
    try:
        for official_id, key in keys.items():
            assert await vault.key_for(official_id, create=False) == key
    finally:
        await vault.close()
    raw = (tmp_path / "vault.db").read_bytes()
    assert not any(w.encode() in raw for w in wrapped.values())
