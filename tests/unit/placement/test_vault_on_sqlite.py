"""The key vault on SQLite (the embedded default): one key per official however two writers
meet, and a key made by another process between the look-up and the insert is the one used."""

from pathlib import Path
from typing import Any

import pytest

from services.placement.adapters.vault import KeyVault, MasterKeys
from shared.contract.crypto import new_key
from shared.infra.sqlite import LoopConnection

MASTERS = MasterKeys("m1", {"m1": new_key()})


async def _vault(path: Path) -> KeyVault:
    vault = KeyVault.open(f"sqlite+aiosqlite:///{path}", MASTERS)
    await vault.migrate()
    return vault


async def test_a_key_made_elsewhere_after_the_look_up_is_the_one_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = await _vault(tmp_path / "vault.db")
    theirs = await _vault(tmp_path / "vault.db")  # another process on the same file
    try:
        looked_up = LoopConnection.read_now
        raced: list[bool] = []

        async def before_theirs(self: LoopConnection, sql: str, params: Any) -> list[Any]:
            rows = await looked_up(self, sql, params)  # nothing yet …
            if not raced:
                raced.append(True)
                await theirs.key_for("NG-RACE", create=True)  # … then they make the key
            return rows

        monkeypatch.setattr(LoopConnection, "read_now", before_theirs)
        key = await ours.key_for("NG-RACE", create=True)
        monkeypatch.undo()
        assert raced

        assert key == await theirs.key_for("NG-RACE", create=False)
        assert key == await ours.key_for("NG-RACE", create=False)
    finally:
        await ours.close()
        await theirs.close()


async def test_a_known_key_is_read_and_an_erased_one_is_gone(tmp_path: Path) -> None:
    vault = await _vault(tmp_path / "vault.db")
    try:
        made = await vault.key_for("NG-1", create=True)
        assert made is not None
        assert await vault.key_for("NG-1", create=True) == made
        assert await vault.key_for("NG-1", create=False) == made
        assert await vault.key_for("NG-2", create=False) is None  # never seconded: not made
        assert await vault.erase("NG-1")
        assert await vault.key_for("NG-1", create=False) is None
    finally:
        await vault.close()
