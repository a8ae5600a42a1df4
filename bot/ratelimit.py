"""Per-sender token buckets: how often one Telegram user or one web client may be answered.

In this process's memory, or in the shared store when several processes answer (SharedRateLimiter).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Hashable

log = logging.getLogger(__name__)


class RateLimiter:
    """Per-sender token bucket: `limit` updates at once, then one every window/limit seconds.

    Past the limit, one notice, then silence until a token is back. A sender whose
    bucket has refilled is forgotten, so memory follows the senders active in the
    last window, not every sender ever seen.
    """

    shared = False

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(limit)
        self.rate = limit / window
        self.window = window
        self.clock = clock
        self._buckets: dict[Hashable, tuple[float, float, bool]] = {}  # tokens, when, notified
        self._next_sweep = clock() + window
        self._lock = threading.Lock()  # the web's channels check from worker threads

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, key: Hashable, cost: float = 1.0) -> str:
        """'ok', 'notify' (first refusal since the last accepted update) or 'drop'."""
        with self._lock:
            return self._check(key, cost)

    def _check(self, key: Hashable, cost: float) -> str:
        now = self.clock()
        if now >= self._next_sweep:
            self._sweep(now)
        tokens, when, notified = self._buckets.get(key, (self.capacity, now, False))
        tokens = min(self.capacity, tokens + (now - when) * self.rate)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now, False)
            return "ok"
        self._buckets[key] = (tokens, now, True)
        return "drop" if notified else "notify"

    def _sweep(self, now: float) -> None:
        full = [k for k, (tokens, when, _) in self._buckets.items() if tokens + (now - when) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]
        self._next_sweep = now + self.window


class SharedRateLimiter:
    """The same token buckets, kept in the shared store: every process on it counts against one limit.

    Each check is one atomic statement on the database; when the database cannot answer,
    the sender is let through (a person in trouble still gets an answer) and that is logged.
    """

    shared = True

    def __init__(self, store, name: str, limit: int, window: float) -> None:
        self.store = store
        self.name = name
        self.capacity = float(limit)
        self.rate = limit / window
        self.window = window
        self._warned = 0.0

    def check(self, key: Hashable, cost: float = 1.0) -> str:
        """'ok', 'notify' (first refusal since the last accepted update) or 'drop'."""
        try:
            return self.store.take_token(f"{self.name}:{key}", self.capacity, self.rate, cost)
        except self.store.Error as exc:
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("rate limit %s not checked: the database did not answer (%s)", self.name,
                            " ".join(str(exc).split()))
            return "ok"


def rate_limiter(store, name: str, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> RateLimiter | SharedRateLimiter:
    """Buckets in the store when other processes share it (PostgreSQL; its clock), else in this process's memory."""
    if getattr(store, "shared", False):
        return SharedRateLimiter(store, name, limit, window)
    return RateLimiter(limit, window, clock)
