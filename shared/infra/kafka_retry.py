"""The retry policy every Kafka consumer here shares (events one at a time, events in batches,
the agencies' commands), and the way each lets go of its consumers.

An infrastructure error (database, network, key vault, Kafka) is retried forever with a capped
exponential backoff: the partition waits rather than lose or park a good record. Any other
error is retried a few times, then the record goes to its dead-letter topic.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaConsumer
from asyncpg.exceptions import InternalClientError
from sqlalchemy.exc import DBAPIError, OperationalError

from shared.infra.redact import describe

log = logging.getLogger(__name__)

RETRIES_BEFORE_DEAD_LETTER = 5
"""Attempts for a record whose handler keeps failing for a reason other than infrastructure."""

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    DBAPIError,
    OSError,
    TimeoutError,
    # asyncpg's connection left mid-operation, unwrapped by SQLAlchemy (`shared.infra.db`)
    InternalClientError,
)
"""The database's and the network's errors; each consumer adds what else it waits out."""


def backoff(attempt: int) -> float:
    """Seconds to wait before the next attempt: 0.4, 0.8, 1.6 … at most 30 (the exponent is
    capped too: a float power overflows after ~1,000 attempts, ~8 hours of an outage)."""
    delay: float = min(0.2 * 2 ** min(attempt, 16), 30.0)
    return delay


async def deliver(
    handle: Callable[[], Awaitable[None]],
    dead_letter: Callable[[str], Awaitable[None]],
    *,
    poison: tuple[type[Exception], ...],
    poison_reason: Callable[[Exception], str],
    infrastructure: tuple[type[BaseException], ...],
    what: str,
    log_to: logging.Logger,
) -> None:
    """Run `handle` until it returns: a `poison` error dead-letters the record at once (with
    `poison_reason`), an infrastructure error is retried forever, any other error
    `RETRIES_BEFORE_DEAD_LETTER` times. Each retry is logged as `<what> failed`."""
    attempt = 0
    while True:
        try:
            await handle()
            return
        except poison as exc:
            await dead_letter(poison_reason(exc))
            return
        except Exception as exc:
            attempt += 1
            if not isinstance(exc, infrastructure) and attempt >= RETRIES_BEFORE_DEAD_LETTER:
                await dead_letter(describe(exc))
                return
            delay = backoff(attempt)
            log_to.warning(
                "%s failed (attempt %d); retry in %.1fs", what, attempt, delay, exc_info=True
            )
            await asyncio.sleep(delay)


async def stop_consuming(
    tasks: Iterable[asyncio.Task[None]], consumers: Iterable[AIOKafkaConsumer], what: str
) -> None:
    """Cancel the consuming tasks, wait for them, then stop each consumer (a failure to stop
    one is logged, not raised: what was not committed is delivered again later)."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for consumer in consumers:
        try:
            await consumer.stop()
        except Exception:
            log.warning("stopping a %s consumer failed", what, exc_info=True)
