"""The key vault on PostgreSQL looks a key up and makes a new one in statements that each
commit on their own (no transaction around them): an official's key is made once, also when
two commands meet the official at the same moment, and an erased key is gone for good."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, insert, text

from services.placement.adapters.vault import KeyVault, MasterKeys, _context, official_keys
from shared.contract.crypto import new_key, seal
from tests.infra import create_database, drop_database, unique_name

pytestmark = pytest.mark.integration


@pytest.fixture
async def vault(pg_dsn: str) -> AsyncIterator[KeyVault]:
    name = unique_name("vault")
    url = await create_database(pg_dsn, name)
    opened = KeyVault.open(url, MasterKeys("m1", {"m1": new_key()}))
    await opened.migrate()
    yield opened
    await opened.close()
    await drop_database(pg_dsn, name)


async def test_a_new_officials_key_is_made_once_and_found_again(
    vault: KeyVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []  # the statements, and each BEGIN the driver sends

    def statement(_conn: Any, _cursor: Any, text: str, *_: Any) -> None:
        sent.append(text.split()[0])

    begin = asyncpg.transaction.Transaction.start

    async def counted_begin(self: asyncpg.transaction.Transaction) -> None:
        sent.append("BEGIN")
        await begin(self)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted_begin)
    event.listen(vault.engine.sync_engine, "before_cursor_execute", statement)
    try:
        made = await vault.key_for("NG-NEW", create=True)
        assert sent == ["WITH"]  # offered and looked up at once, no transaction around it
        sent.clear()
        again = await vault.key_for("NG-NEW", create=True)
        assert sent == ["WITH"]  # the offer left, the key there found
        sent.clear()
        assert await vault.key_for("NG-NEW", create=False) == made
        assert sent == ["SELECT"]
    finally:
        event.remove(vault.engine.sync_engine, "before_cursor_execute", statement)
    assert made is not None
    assert again == made
    assert await vault.key_for("NG-UNKNOWN", create=False) is None


async def test_two_commands_meeting_a_new_official_at_once_get_one_key(vault: KeyVault) -> None:
    keys = await asyncio.gather(*(vault.key_for("NG-RACE", create=True) for _ in range(8)))
    assert len(set(keys)) == 1
    assert keys[0] == await vault.key_for("NG-RACE", create=False)


async def test_an_erased_key_is_not_found_and_a_new_one_is_another(vault: KeyVault) -> None:
    first = await vault.key_for("NG-ERASE", create=True)
    assert await vault.erase("NG-ERASE")
    assert await vault.key_for("NG-ERASE", create=False) is None
    assert await vault.key_for("NG-ERASE", create=True) != first


async def _file_of_keys(vault: KeyVault) -> bytes:
    async with vault.engine.connect() as conn:
        raw = await conn.scalar(
            text("SELECT pg_read_binary_file(pg_relation_filepath('official_keys'))")
        )
    return bytes(raw)


async def test_an_erasure_waits_out_an_older_snapshot_before_its_scrub_counts(
    vault: KeyVault, pg_dsn: str
) -> None:
    """`VACUUM FULL` keeps a deleted row any open snapshot of the database may still see (an
    analyse by autovacuum, a slow reader): the scrub must try again until the row is gone,
    not leave the wrapped key in the table's file."""
    await vault.key_for("NG-SNAPSHOT", create=True)
    async with vault.engine.connect() as conn:
        wrapped = await conn.scalar(
            text("SELECT wrapped_key FROM official_keys WHERE official_id = 'NG-SNAPSHOT'")
        )
    url = vault.engine.url.set(drivername="postgresql")
    reader = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        old = reader.transaction(isolation="repeatable_read")
        await old.start()
        await reader.fetchval("SELECT 1")  # its snapshot, taken now (no lock on the keys)
        erasing = asyncio.create_task(vault.erase("NG-SNAPSHOT"))
        await asyncio.sleep(1.0)
        assert not erasing.done()  # still waiting for the old snapshot to go
        await old.rollback()
        assert await asyncio.wait_for(erasing, 30)
    finally:
        await reader.close()
    assert wrapped.encode() not in await _file_of_keys(vault)


async def test_a_key_another_command_commits_while_ours_is_offered_is_the_key(
    vault: KeyVault,
) -> None:
    """The look-up and the offer share a snapshot taken before the other command committed:
    no row comes back, and the key is looked up again."""
    theirs = new_key()
    nonce, wrapped = seal(vault.masters.current, theirs, _context("NG-LATE"))
    row = {
        "official_id": "NG-LATE",
        "nonce": nonce,
        "wrapped_key": wrapped,
        "created_at": dt.datetime.now(dt.UTC),
        "master_kid": vault.masters.current_id,
    }
    async with vault.engine.connect() as other:
        await other.execute(insert(official_keys), row)  # uncommitted: our offer waits for it
        ours = asyncio.create_task(vault.key_for("NG-LATE", create=True))
        await asyncio.sleep(0.5)
        assert not ours.done()
        await other.commit()
    assert await ours == theirs
    assert await vault.key_for("NG-LATE", create=False) == theirs
