"""Python's cyclic garbage collector, tuned for a long-running service process.

Two settings, each for a pause measured on the product (docs/performance.md, "Commands"):
- `tune_gc`: a batch consumer allocates some fifty objects per event that live until the batch
  commits; the default thresholds made the collector 30 to 50 % of a projection's time;
- `freeze_startup`: a full collection scans every object the collector tracks, and after
  start-up some 220,000 of them (modules, routes, pydantic and SQLAlchemy schemas, compiled
  statements) live as long as the process. In the embedded default each full collection then
  stalled the event loop, and every request on it, for 95 to 108 ms: the p99 of secondments at
  16 clients. Frozen, they are left out of every later collection (`gc.freeze`, as large
  Python servers do), and a full collection scans only what came after: about 5 ms.
"""

import gc

GC_THRESHOLDS = (200_000, 20, 100)
"""The thresholds of a batch consumer's process: with 50,000 for the youngest generation the
collector still took 12 % of the projection's time, under 2 % with 200,000. Garbage cycles are
still collected, less often."""


def tune_gc() -> None:
    """Raise the collector's thresholds (never lowers them) for batch consumption."""
    current = gc.get_threshold()
    gc.set_threshold(*(max(c, t) for c, t in zip(current, GC_THRESHOLDS, strict=True)))


def freeze_startup() -> int:
    """Once a process has started: collect start-up's garbage, then move every object still
    alive out of the collector's sight (they are freed as usual when no longer referenced,
    unless they are part of a cycle). Returns how many objects were frozen.

    Only a server process's entry point calls it, once: a process that starts and stops many
    apps (the test suite) would keep each stopped app's cycles forever."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
