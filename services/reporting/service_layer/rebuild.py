"""Rebuild the read models from every event, without stopping the live dashboard.

1. Create fresh `rm_…__next` tables and replay the source into them while the live projection
   and the dashboard go on with the live tables. The replay is set-based: the tables start
   empty and each event counts once, so there is no per-event bookkeeping (no claims);
   events are deduplicated by id in memory (a duplicate in the topics counts once) and folded
   into one row per aggregate and table (`changes.py`), which the adapter writes in a few
   large statements (every `flush_rows` folded rows, and at the end).
2. In one transaction: lock the live tables (the live projection waits, readers wait an
   instant), replay what arrived meanwhile up to the source's end as seen under the lock,
   rename live → old and next → live, drop the old ones, commit.
The new tables then hold every event the live ones held (and perhaps a few the live
projection has not reached yet: applying those again later changes nothing, by construction
of the merges). Events that cannot be read (the live projection dead-letters them) are
skipped and counted.
"""

import contextlib
import gc
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from pydantic import ValidationError

from services.reporting.service_layer.changes import Changes
from services.reporting.service_layer.ports import EventSource, FreshReadModels
from services.reporting.service_layer.projections import changes_of, parsed
from shared.contract.envelope import CloudEvent


@dataclass
class RebuildReport:
    """What a rebuild did."""

    events: int
    seconds: float
    final_events: int
    distinct: int = 0
    """Events applied (`events` less duplicates and unreadable ones)."""
    skipped: int = 0
    """Messages that were not a readable event."""


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


FLUSH_ROWS = 2_000_000
"""Folded rows held in memory before they are written (about 1 KB each)."""


class Replay:
    """Events folded into one generation's rows, each event id once."""

    def __init__(self) -> None:
        self.changes = Changes()
        self.seen: set[int] = set()
        self.read = 0
        self.skipped = 0

    def add(self, batch: Sequence[CloudEvent]) -> None:
        """Fold a batch (duplicates of events already folded are ignored)."""
        self.read += len(batch)
        fresh = []
        for envelope in batch:
            key = envelope.id.int
            if key not in self.seen:
                self.seen.add(key)
                fresh.append(envelope)
        try:
            events = parsed(fresh)
        except (ValidationError, KeyError):
            events = []
            for envelope in fresh:
                try:
                    events.extend(parsed([envelope]))
                except (ValidationError, KeyError):
                    self.skipped += 1
        changes_of(events, into=self.changes)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The replay builds a few million long-lived, acyclic objects: without this, Python's
    collector would traverse them again and again (most of a rebuild's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def rebuild(
    target: FreshReadModels,
    source: EventSource,
    *,
    progress: Callable[[int], ProgressBar] | None = None,
    flush_rows: int = FLUSH_ROWS,
) -> RebuildReport:
    """Replay `source` into a fresh generation and swap it in; returns the count of events."""
    started = time.monotonic()
    await target.create()
    bar = progress(await source.total()) if progress else None
    replay = Replay()

    async def flush() -> None:
        await target.write(replay.changes)
        replay.changes.clear()

    with _no_cycle_collection():
        async for batch in source.batches():
            replay.add(batch)
            if bar:
                bar.advance(len(batch))
            if len(replay.changes) >= flush_rows:
                await flush()
        await flush()
        count = replay.read
        async with target.swap_in() as swapping:
            async for batch in source.batches():
                replay.add(batch)
                if bar:
                    bar.advance(len(batch))
            await swapping.write(replay.changes)
    if bar:
        bar.close()
    return RebuildReport(
        events=replay.read,
        seconds=time.monotonic() - started,
        final_events=replay.read - count,
        distinct=len(replay.seen) - replay.skipped,
        skipped=replay.skipped + source.skipped,
    )
