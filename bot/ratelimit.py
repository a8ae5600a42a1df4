"""Per-sender token buckets: how often one Telegram user or one web client may be answered."""

from __future__ import annotations

import threading
import time
from typing import Callable, Hashable


class RateLimiter:
    """Per-sender token bucket: `limit` updates at once, then one every window/limit seconds.

    Past the limit, one notice, then silence until a token is back. A sender whose
    bucket has refilled is forgotten, so memory follows the senders active in the
    last window, not every sender ever seen.
    """

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
