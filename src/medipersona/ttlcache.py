"""A small time-limited cache, written once: entries are served for ``ttl`` seconds after they were stored; past
``max_size`` entries the cache starts over (best effort, per process). Used for the request principal
(``deps.py``) and the names a user's recent personas used (``personas/service.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, ttl: float, max_size: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        """The value stored under ``key`` less than ``ttl`` seconds ago, else None (an expired entry is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] < self.ttl:
            return entry[1]
        self._entries.pop(key, None)
        return None

    def set(self, key: K, value: V) -> None:
        if key not in self._entries and len(self._entries) >= self.max_size:
            self._entries.clear()
        self._entries[key] = (self._clock(), value)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
