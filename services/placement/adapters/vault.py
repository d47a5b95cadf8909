"""The officials' key vault: one data key per official, stored wrapped by a master key.

Deleting a row is the erasure: every identity and free text sealed with that key becomes
unreadable in the event store, the outbox, Kafka and any copy. The vault is a store of its own
(`PLACEMENT_VAULT_URL`: its own database and migration history, its own backup policy),
so that a backup of the service's data holds no key, and it scrubs what it deletes:
- SQLite: `secure_delete` zeroes deleted content in the file, and a `wal_checkpoint(TRUNCATE)`
  after each erasure empties the write-ahead log that still held the page before;
- PostgreSQL: `VACUUM FULL` of the (small) key table after each erasure rewrites it without
  the dead row (a plain VACUUM may leave its bytes in the page's free space), again while an
  open snapshot of the database keeps it (`scrub.py`).
Backups and WAL archives taken before an erasure still hold the wrapped key: they are useless
once the master key that wrapped it is rotated away (`rotate_master_key`, runbook in
docs/runbooks/master-key-rotation.md), which is why every row names its master key.
"""

import datetime as dt
import sqlite3
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.placement.adapters.scrub import sqlite_compact, vacuum_full_until_clean
from shared.contract.crypto import new_key, open_sealed, seal
from shared.infra.db import make_engine, make_sessions
from shared.infra.migrations import upgrade_when_reachable
from shared.infra.sqlite import driver_of

vault_metadata = MetaData()

official_keys = Table(
    "official_keys",
    vault_metadata,
    Column("official_id", String(64), primary_key=True),
    Column("nonce", String(32), nullable=False),
    Column("wrapped_key", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("master_kid", String(64), nullable=False, server_default="master-1"),
)

VERSION_TABLE = "alembic_version_vault"


def _context(official_id: str) -> str:
    return f"secondment/official-key/{official_id}"


@dataclass(frozen=True)
class MasterKeys:
    """The master key that wraps new keys (`current`), and the retired ones still able to
    unwrap rows a rotation has not reached yet."""

    current_id: str
    keys: Mapping[str, bytes]

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    def unwrap(self, official_id: str, kid: str, nonce: str, wrapped: str) -> bytes:
        key = self.keys.get(kid)
        if key is None:
            raise LookupError(
                f"the key of an official is wrapped by master key {kid!r}, which is not "
                "configured (PLACEMENT_PREVIOUS_MASTER_KEYS during a rotation)"
            )
        return open_sealed(key, nonce, wrapped, _context(official_id))


_FIND = select(
    official_keys.c.nonce, official_keys.c.wrapped_key, official_keys.c.master_kid
).where(official_keys.c.official_id == bindparam("b_official_id"))
"""Built once: SQLAlchemy reuses its compiled form."""
_FIND_OR_MAKE = text(
    "WITH made AS (INSERT INTO official_keys "
    "(official_id, nonce, wrapped_key, created_at, master_kid) "
    "VALUES (:official_id, :nonce, :wrapped_key, :created_at, :master_kid) "
    "ON CONFLICT (official_id) DO NOTHING RETURNING nonce, wrapped_key, master_kid) "
    "SELECT nonce, wrapped_key, master_kid, true AS made FROM made UNION ALL "
    "SELECT nonce, wrapped_key, master_kid, false FROM official_keys "
    "WHERE official_id = :official_id"
).bindparams(*(bindparam(c.name, type_=c.type) for c in official_keys.c))
"""PostgreSQL: the key offered, or the one there already, in one statement. Its parts share
one snapshot: the look-up does not see the offered row, and does not see a key a concurrent
command committed meanwhile either (then no row comes back: look again)."""
_SQLITE_FIND = "SELECT nonce, wrapped_key, master_kid FROM official_keys WHERE official_id = ?"
_SQLITE_INSERT_NEW = (
    "INSERT INTO official_keys (official_id, nonce, wrapped_key, created_at, master_kid) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (official_id) DO NOTHING"
)
"""SQLite, through the driver (`_sqlite_key_for`): the look-up, and a new key unless a
concurrent command (another process) made one first."""


def _sqlite_make(offer: tuple[Any, ...], db: sqlite3.Connection) -> list[Any] | None:
    """In the vault's transaction: the offered key inserted (None), or the key a concurrent
    command (another process) made first."""
    made = db.execute(_SQLITE_INSERT_NEW, offer)
    inserted = made.rowcount == 1
    made.close()
    if inserted:
        return None
    found = db.execute(_SQLITE_FIND, offer[:1])
    try:
        return found.fetchall()
    finally:
        found.close()


class TransactionKeys:
    """`KeyVault.key_for`, remembered for one transaction (`KeyVault.for_transaction`).

    Only what the vault answered is remembered: an official without a key (erased, or never
    seconded) is asked again, so that `create=True` after `create=False` still makes one.
    """

    def __init__(self, vault: "KeyVault") -> None:
        self._vault = vault
        self._known: dict[str, bytes] = {}

    async def key_for(self, official_id: str, *, create: bool) -> bytes | None:
        known = self._known.get(official_id)
        if known is not None:
            return known
        key = await self._vault.key_for(official_id, create=create)
        if key is not None:
            self._known[official_id] = key
        return key


class KeyVault:
    """The vault's store: keys by official, each lookup and change its own short transaction.

    A key is created before the events sealed with it commit; an orphan key (the command
    failed after) is harmless, a missing one impossible.
    """

    def __init__(self, engine: AsyncEngine, masters: MasterKeys) -> None:
        self.engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = make_sessions(engine)
        self.masters = masters
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        dialect = engine.dialect
        stored = official_keys.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        self._stored_time: Callable[[dt.datetime], Any] = stored or (lambda value: value)
        self._transactions: weakref.WeakKeyDictionary[object, TransactionKeys] = (
            weakref.WeakKeyDictionary()
        )

    def for_transaction(self, transaction: object) -> "TransactionKeys":
        """The keys as one command's transaction sees them: each official's key is looked up
        (and unwrapped) once, however many times the command seals or opens their data — the
        event, its view, the remembered answer. Forgotten with the transaction."""
        keys = self._transactions.get(transaction)
        if keys is None:
            keys = self._transactions[transaction] = TransactionKeys(self)
        return keys

    def for_command(self, transaction: object) -> "TransactionKeys":
        """`for_transaction` for a command starting on it: a cache of its own. Several commands
        share one transaction (a fetch of Kafka commands, ADR 0008); a key one of them read
        must not outlive it, or a command later in the run could seal or open with a key an
        erasure deleted meanwhile."""
        keys = self._transactions[transaction] = TransactionKeys(self)
        return keys

    @classmethod
    def open(cls, url: str, masters: MasterKeys) -> "KeyVault":
        """The vault at `url` (created on `migrate`); SQLite files scrub what they delete."""
        engine = make_engine(url, pool_size=4)
        if engine.dialect.name == "sqlite":

            @event.listens_for(engine.sync_engine, "connect")
            def _scrub(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA secure_delete=ON")
                # A key lost to a power cut would leave events sealed with it unreadable for
                # good: the vault syncs every commit (the other files may lose their last).
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.close()

        return cls(engine, masters)

    async def migrate(self) -> None:
        """Create or upgrade the vault's tables (its own migration history)."""
        from services.placement.bootstrap import VAULT_MIGRATIONS

        await upgrade_when_reachable(self.engine, VAULT_MIGRATIONS, VERSION_TABLE, name="vault")

    async def close(self) -> None:
        await self.engine.dispose()

    async def key_for(self, official_id: str, *, create: bool) -> bytes | None:
        """The official's data key; a new one if `create` and none exists; None if erased.

        The look-up, and for an official met the first time the insert, which leaves a key a
        concurrent command made first in place (then read). On PostgreSQL each statement
        commits on its own, and with `create` the look-up and the insert are one statement
        (`_find_or_make`): one round trip, where a transaction around them took four and three
        (a statement costs about 0.3 ms of CPU: docs/performance.md). On SQLite they are one
        transaction: one synced commit, and only for an official met the first time
        (`_sqlite_key_for`)."""
        if self.engine.dialect.name == "sqlite":
            return await self._sqlite_key_for(official_id, create=create)
        if create:
            return await self._find_or_make(official_id)
        async with self._autocommit.connect() as conn:
            row = (await conn.execute(_FIND, {"b_official_id": official_id})).first()
        if row is None:
            return None
        return self.masters.unwrap(official_id, row.master_kid, row.nonce, row.wrapped_key)

    async def _sqlite_key_for(self, official_id: str, *, create: bool) -> bytes | None:
        """SQLite: the look-up alone, outside a transaction (a known official costs one read,
        no commit); for an official met the first time, the insert in a transaction of its
        own, with its synced commit. Through the driver on the file's one connection: the
        SQLAlchemy session around the same statements cost more than SQLite's work (0.35 ms
        of CPU for a new official's key, 0.17 for a known one's; docs/performance.md)."""
        async with self.engine.connect() as conn:
            driver = await driver_of(conn)
            rows: list[Any] | None = await driver.read_now(_SQLITE_FIND, (official_id,))
            if not rows and create:
                key = new_key()
                nonce, wrapped = seal(self.masters.current, key, _context(official_id))
                made_at = self._stored_time(dt.datetime.now(dt.UTC))
                offer = (official_id, nonce, wrapped, made_at, self.masters.current_id)
                rows = await driver.transaction_now(partial(_sqlite_make, offer))
                if rows is None:
                    return key
        if not rows:
            return None
        nonce, wrapped, kid = rows[0]
        return self.masters.unwrap(official_id, kid, nonce, wrapped)

    async def _find_or_make(self, official_id: str) -> bytes:
        """PostgreSQL, `create`: a new key offered with the look-up, one round trip for a new
        official and for a known one alike (the offer, a random key wrapped, costs far less
        than a second statement)."""
        key = new_key()
        nonce, wrapped = seal(self.masters.current, key, _context(official_id))
        offer = {
            "official_id": official_id,
            "nonce": nonce,
            "wrapped_key": wrapped,
            "created_at": dt.datetime.now(dt.UTC),
            "master_kid": self.masters.current_id,
        }
        async with self._autocommit.connect() as conn:
            row = (await conn.execute(_FIND_OR_MAKE, offer)).first()
            if row is not None and row.made:
                return key
            if row is None:  # a concurrent command's key, committed after our snapshot
                row = (await conn.execute(_FIND, {"b_official_id": official_id})).first()
        if row is None:  # erased in between: the offer lost to a key now gone
            raise LookupError(f"the key of official {official_id} changed while being made")
        return self.masters.unwrap(official_id, row.master_kid, row.nonce, row.wrapped_key)

    async def erase(self, official_id: str) -> bool:
        """Delete the official's key and scrub it from the store's files; False when there
        was none (already erased)."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(official_keys).where(official_keys.c.official_id == official_id)
            )
        await self.scrub()
        return bool(getattr(result, "rowcount", 0))

    async def scrub(self) -> None:
        """Leave no deleted or replaced key in the store's files (see the module's doc)."""
        if self.engine.dialect.name == "sqlite":
            await sqlite_compact(self.engine, vacuum=False)
        else:
            await vacuum_full_until_clean(self.engine, official_keys.name)

    async def rewrap(
        self, batch: int = 500, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Wrap every key not under the current master key with it (resumable: each batch
        commits; run again after an interruption). Returns how many were rewrapped."""
        current = self.masters.current_id
        async with self._sessions() as session:
            remaining = len(
                (
                    await session.execute(
                        select(official_keys.c.official_id).where(
                            official_keys.c.master_kid != current
                        )
                    )
                ).all()
            )
        done = 0
        while True:
            async with self._sessions() as session, session.begin():
                rows = (
                    await session.execute(
                        select(official_keys)
                        .where(official_keys.c.master_kid != current)
                        .order_by(official_keys.c.official_id)
                        .limit(batch)
                    )
                ).all()
                for r in rows:
                    key = self.masters.unwrap(r.official_id, r.master_kid, r.nonce, r.wrapped_key)
                    nonce, wrapped = seal(self.masters.current, key, _context(r.official_id))
                    await session.execute(
                        update(official_keys)
                        .where(official_keys.c.official_id == r.official_id)
                        .values(nonce=nonce, wrapped_key=wrapped, master_kid=current)
                    )
            if not rows:
                break
            done += len(rows)
            if progress is not None:
                progress(done, remaining)
        await self.scrub()
        return done


async def adopt_keys(vault: KeyVault, service_engine: AsyncEngine) -> int:
    """Move keys a service database still holds (from before the vault had its own store)
    into the vault, then delete them there; returns how many moved."""
    async with service_engine.connect() as conn:
        has_table = await conn.run_sync(
            lambda sync: sync.dialect.has_table(sync, official_keys.name)
        )
        if not has_table:
            return 0
        rows = (await conn.execute(select(official_keys))).mappings().all()
    if not rows:
        return 0
    async with vault._sessions() as session, session.begin():
        for row in rows:
            exists = await session.scalar(
                select(official_keys.c.official_id).where(
                    official_keys.c.official_id == row["official_id"]
                )
            )
            if exists is None:
                await session.execute(insert(official_keys).values(**dict(row)))
    async with service_engine.begin() as conn:
        await conn.execute(delete(official_keys))
    if service_engine.dialect.name == "sqlite":
        await sqlite_compact(service_engine, vacuum=True)
    else:
        await vacuum_full_until_clean(service_engine, official_keys.name)
    return len(rows)
