"""An outbox relay that takes the leadership and then hangs inside its first publish (a broker
that never answers), holding the advisory lock: the leader the handover test kills.

Run by tests as `python -m tests.integration.stuck_relay DATABASE_URL LOCK_KEY`; it prints
`publishing N` once it holds the lock with N rows in hand.
"""

import asyncio
import sys
from collections.abc import Sequence

from sqlalchemy import MetaData

from shared.infra.db import make_engine, make_sessions
from shared.infra.outbox import OutboxRelay, OutgoingMessage
from shared.infra.schema import define_core_tables


class Hanging:
    """A publisher whose broker never acknowledges."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        print(f"publishing {len(messages)}", flush=True)
        await asyncio.Event().wait()

    async def reset(self) -> None:
        """Nothing to reconnect."""


async def main(url: str, lock_key: int) -> None:
    sessions = make_sessions(make_engine(url))
    relay = OutboxRelay(
        sessions, define_core_tables(MetaData()), Hanging(), lock_key=lock_key, poll_interval=0.2
    )
    relay.start()
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
