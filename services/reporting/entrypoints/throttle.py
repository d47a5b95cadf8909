"""Failed dashboard sign-ins, counted per user name and per client address, so that passwords
and tokens cannot be guessed at speed.

A sliding window in memory: after `max_failures` failures within `window_seconds` under one
key, every further attempt under that key is refused until the oldest of those failures leaves
the window. Each replica counts on its own (a deployment of N replicas allows up to N times as
many guesses) and a restart forgets; both are acceptable for a brake on guessing.

User names are kept only as a digest, never in clear, and never logged.
"""

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable

DEFAULT_MAX_FAILURES = 5
DEFAULT_WINDOW_SECONDS = 15 * 60.0
MAX_KEYS = 100_000
"""Most keys remembered; beyond, the stalest are forgotten (memory stays bounded)."""


def user_key(username: str) -> str:
    """The key of a user name: case-insensitive, and a digest so no name is held in clear."""
    return "user:" + hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def address_key(address: str) -> str:
    """The key of a client address."""
    return "addr:" + address


class LoginThrottle:
    """Sliding-window failure counts per key (user name or client address)."""

    def __init__(
        self,
        max_failures: int = DEFAULT_MAX_FAILURES,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until an attempt under all `keys` is allowed again; None when it is now."""
        if self.max_failures <= 0:
            return None
        now = self._clock()
        waits = []
        for key in keys:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.max_failures:
                # Allowed once the failure that reached the limit leaves the window.
                oldest = times[len(times) - self.max_failures]
                waits.append(oldest + self.window_seconds - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, *keys: str) -> None:
        """Count one failure under every key."""
        now = self._clock()
        for key in keys:
            times = self._failures.setdefault(key, deque())
            times.append(now)
            while len(times) > max(self.max_failures, 1):
                times.popleft()
        if len(self._failures) > MAX_KEYS:
            self._forget_stalest(now)

    def succeeded(self, key: str) -> None:
        """Forget a user's failures once they sign in (never an address's: one good account
        must not reset the count of a client guessing others)."""
        self._failures.pop(key, None)

    def _forget_stalest(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        excess = len(self._failures) - MAX_KEYS
        if excess > 0:
            stalest = sorted(self._failures, key=lambda k: self._failures[k][-1])[:excess]
            for key in stalest:
                del self._failures[key]
