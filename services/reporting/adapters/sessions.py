"""Signed-out dashboard sessions, kept in the reporting database so that a sign-out holds on
every replica and across restarts until the token would have expired anyway."""

import datetime as dt
import hashlib

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.adapters.tables import signed_out_sessions as t


def _digest(token: str) -> str:
    # The token itself is a bearer credential: only its hash is stored.
    return hashlib.sha256(token.encode()).hexdigest()


class SignedOutSessions:
    """`SessionRevocations` of the reporting service."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def revoke(self, token: str, expires_at: dt.datetime) -> None:
        """Refuse `token` from now until `expires_at`; forget sessions already expired."""
        async with self._sessions() as session, session.begin():
            now = dt.datetime.now(dt.UTC)
            await session.execute(delete(t).where(t.c.expires_at < now))
            if expires_at > now:
                try:
                    async with session.begin_nested():
                        await session.execute(
                            t.insert().values(digest=_digest(token), expires_at=expires_at)
                        )
                except IntegrityError:
                    pass  # signed out twice: already refused

    async def is_revoked(self, token: str) -> bool:
        async with self._sessions() as session:
            found = await session.execute(select(t.c.digest).where(t.c.digest == _digest(token)))
            return found.first() is not None
