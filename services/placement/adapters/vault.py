"""The officials' key vault: one data key per official, stored wrapped by the master key.

Deleting a row is the erasure: every identity sealed with that key becomes unreadable in
the event store, the outbox, Kafka and any copy. It has its own migration history (and may
live in its own database), apart from the service's tables.
"""

import datetime as dt

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.crypto import new_key, open_sealed, seal

vault_metadata = MetaData()

official_keys = Table(
    "official_keys",
    vault_metadata,
    Column("official_id", String(64), primary_key=True),
    Column("nonce", String(32), nullable=False),
    Column("wrapped_key", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def _context(official_id: str) -> str:
    return f"secondment/official-key/{official_id}"


class KeyVault:
    """Keys of officials, in the caller's transaction (so a key exists iff its events do)."""

    def __init__(self, session: AsyncSession, master_key: bytes) -> None:
        self._session = session
        self._master = master_key

    async def key_for(self, official_id: str, *, create: bool) -> bytes | None:
        row = (
            await self._session.execute(
                select(official_keys.c.nonce, official_keys.c.wrapped_key).where(
                    official_keys.c.official_id == official_id
                )
            )
        ).first()
        if row is not None:
            return open_sealed(self._master, row.nonce, row.wrapped_key, _context(official_id))
        if not create:
            return None
        key = new_key()
        nonce, wrapped = seal(self._master, key, _context(official_id))
        await self._session.execute(
            insert(official_keys).values(
                official_id=official_id,
                nonce=nonce,
                wrapped_key=wrapped,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        return key

    async def erase(self, official_id: str) -> bool:
        """Delete the official's key; False when there was none (already erased)."""
        result = await self._session.execute(
            delete(official_keys).where(official_keys.c.official_id == official_id)
        )
        return bool(getattr(result, "rowcount", 0))
