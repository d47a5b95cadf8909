"""Rebuild the read models from every event, without stopping the live dashboard.

1. Create fresh `rm_…__next` tables and replay the source into them, batch by batch, while
   the live projection and the dashboard go on with the live tables.
2. In one transaction: lock the live tables (the live projection waits, readers wait an
   instant), replay what arrived meanwhile up to the source's end as seen under the lock,
   rename live → old and next → live, drop the old ones, commit.
The new tables then hold every event the live ones held (and perhaps a few the live
projection has not reached yet: applying those again later changes nothing, by construction
of the upserts).
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.adapters.rebuild import (
    EventSource,
    create_fresh,
    lock_live,
    next_generation,
    swap,
)
from services.reporting.adapters.writer import write
from services.reporting.service_layer.projections import changes_of, parsed
from shared.infra.db import make_sessions


@dataclass
class RebuildReport:
    """What a rebuild did."""

    events: int
    seconds: float
    final_events: int


class ProgressBar:
    """A one-line progress bar on a terminal (plain lines when not a terminal)."""

    def __init__(self, total: int, out: TextIO | None = None, width: int = 40) -> None:
        self.total = max(total, 1)
        # Looked up now, not at import: the stream may have been replaced since (tests).
        self.out = out if out is not None else sys.stderr
        self.width = width
        self.done = 0
        self._last = 0.0
        self._tty = self.out.isatty()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self._tty or now - self._last > 2 or self.done >= self.total:
            self._last = now
            share = min(self.done / self.total, 1.0)
            filled = int(share * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            end = "\r" if self._tty else "\n"
            self.out.write(f"[{bar}] {share:6.1%} {self.done:,}/{self.total:,} events{end}")
            self.out.flush()

    def close(self) -> None:
        if self._tty:
            self.out.write("\n")


async def rebuild(
    engine: AsyncEngine,
    source: EventSource,
    *,
    progress: Callable[[int], ProgressBar] | None = None,
) -> RebuildReport:
    """Replay `source` into fresh tables and swap them in; returns the count of events."""
    started = time.monotonic()
    sessions = make_sessions(engine)
    models = next_generation()
    await create_fresh(engine, models)
    bar = progress(await source.total()) if progress else None
    count = 0
    async for batch in source.batches():
        async with sessions() as session, session.begin():
            await write(session, models, changes_of(parsed(batch)))
        count += len(batch)
        if bar:
            bar.advance(len(batch))
    final = 0
    async with sessions() as session, session.begin():
        conn = await session.connection()
        await lock_live(conn)
        async for batch in source.batches():
            await write(session, models, changes_of(parsed(batch)))
            final += len(batch)
            if bar:
                bar.advance(len(batch))
        await swap(conn)
    if bar:
        bar.close()
    return RebuildReport(count + final, time.monotonic() - started, final)
