"""Connections go to those waiting in the order they came (`shared.infra.fair_pool`)."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.infra.db import make_engine
from shared.infra.fair_pool import HandOffQueue


async def test_a_returned_item_goes_to_the_longest_waiter_not_to_a_newcomer() -> None:
    queue: HandOffQueue[str] = HandOffQueue()
    served: list[str] = []

    async def wait(name: str) -> None:
        served.append(f"{name}:{await queue.get()}")

    first = asyncio.create_task(wait("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(wait("second"))
    await asyncio.sleep(0)
    queue.put_nowait("a")
    # A newcomer asking at once (as the next request does) finds nothing to take.
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    queue.put_nowait("b")
    await asyncio.gather(first, second)
    assert served == ["first:a", "second:b"]


async def test_an_item_handed_to_a_cancelled_waiter_goes_on_to_the_next() -> None:
    queue: HandOffQueue[str] = HandOffQueue()
    gone = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    nxt = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("only")  # handed to `gone`, which is cancelled before it runs
    gone.cancel()
    assert await nxt == "only"
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_every_transaction_on_one_sqlite_connection_waits_its_turn(tmp_path: Path) -> None:
    """64 transactions on one file, each holding the connection across awaits: the last to
    ask is served last, none overtaken (asyncio's own queue let newcomers barge, and some
    requests waited seconds while others went by)."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/fair.db")
    order: list[int] = []
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))

        async def transaction(n: int) -> None:
            async with engine.begin() as conn:
                order.append(n)
                await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                await asyncio.sleep(0)  # others ask meanwhile
                await asyncio.sleep(0)

        tasks = []
        for n in range(64):
            tasks.append(asyncio.create_task(transaction(n)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
    finally:
        await engine.dispose()
    assert order == list(range(64))
