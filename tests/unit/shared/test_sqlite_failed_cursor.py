"""A failed statement on SQLite must not leave a cursor for the garbage collector to free:
freeing it takes its connection's mutex while holding the GIL, and if that connection is
waiting for the database lock at that moment, the whole process stalls until the busy timeout
(30 s) — seen as rare 503s when requests raced with one `Idempotency-Key` on the embedded
default. The engine closes the cursor of a failed statement at once (`shared.infra.db`), and
its one connection waits for another's lock asleep on the event loop, never inside SQLite
(`shared.infra.sqlite`). The lock here is held by a second engine on the same file, as another
process (a rebuild beside the service) would hold it."""

import asyncio
import gc
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared.infra.db import make_engine


async def test_collecting_garbage_never_waits_for_a_connection_that_waits_for_the_lock(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    engine, other = make_engine(url), make_engine(url)
    gc.disable()  # the failed cursor must still be garbage when the connection waits
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE answers (key TEXT PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO answers VALUES ('k')"))
        async with engine.connect() as waiting, other.connect() as holding:
            try:
                async with waiting.begin():
                    await waiting.execute(text("INSERT INTO answers VALUES ('k')"))
            except IntegrityError:
                pass  # the error and its traceback are now garbage, in a reference cycle
            await holding.begin()
            await holding.execute(text("INSERT INTO answers VALUES ('held')"))

            async def wait_for_the_lock() -> None:
                async with waiting.begin():
                    await waiting.execute(text("INSERT INTO answers VALUES ('after')"))

            waiter = asyncio.create_task(wait_for_the_lock())
            await asyncio.sleep(0.3)  # the waiting connection is waiting for the lock
            started = time.monotonic()
            gc.collect()
            collected_in = time.monotonic() - started
            await holding.commit()
            await asyncio.gather(waiter, return_exceptions=True)
            # The stall this guards against lasts the 30 s busy timeout; a full collection of a
            # long test session's heap on a loaded 2-core machine takes up to a few seconds.
            assert collected_in < 10, f"the garbage collector waited {collected_in:.1f} s"
            assert waiter.exception() is None  # and the waiting connection got the lock
    finally:
        gc.enable()
        await engine.dispose()
        await other.dispose()
