"""A size- and age-bounded cache: per-user and per-chat state in memory that cannot grow with the user count."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_MISSING = object()


class ExpiringLRU(Generic[K, V]):
    """At most `max_size` entries, each forgotten `ttl` seconds after it was last set; least recently used go first."""

    def __init__(self, max_size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_size = max_size
        self.ttl = ttl
        self.clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K, default: V | None = None) -> V | None:
        item = self._items.get(key, _MISSING)
        if item is _MISSING:
            return default
        expires, value = item  # type: ignore[misc]
        if expires <= self.clock():
            del self._items[key]
            return default
        self._items.move_to_end(key)
        return value

    def __contains__(self, key: K) -> bool:
        return self.get(key, _MISSING) is not _MISSING  # type: ignore[arg-type]

    def set(self, key: K, value: V) -> None:
        now = self.clock()
        self._items[key] = (now + self.ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)
        # Expired entries at the old end go now, not when the cache is full: memory follows
        # the last `ttl` seconds of traffic, not `max_size` (each set removes at most what it adds, amortized).
        while self._items:
            expires, _ = next(iter(self._items.values()))
            if expires > now:
                break
            self._items.popitem(last=False)

    def pop(self, key: K, default: V | None = None) -> V | None:
        item = self._items.pop(key, _MISSING)
        return default if item is _MISSING else item[1]  # type: ignore[index]
