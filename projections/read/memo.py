"""A read-through cache for the HTTP read path: a hundred dashboards of one territory cost one query.

Every entry is stamped with the generation it was computed in; `Generation.advance` (new data in the
views) makes every older entry stale at once, and entries live `ttl` seconds at most (the "last hour"
windows move with the clock). One `Memo` per query, each keyed by that query's own typed key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_ENTRIES = 10_000


class Generation:
    """The data's generation, shared by the memos of one read model."""

    def __init__(self) -> None:
        self.value = 0

    def advance(self) -> None:
        self.value += 1


class Memo(Generic[K, V]):
    def __init__(self, generation: Generation, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.generation = generation
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, int, V]] = {}
        self._locks: dict[K, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def peek(self, key: K) -> V | None:
        """The cached value, if fresh (cheap: callers on the event loop skip the thread pool)."""
        entry = self._entries.get(key)
        if entry is not None and entry[1] == self.generation.value and entry[0] > time.monotonic():
            return entry[2]
        return None

    def remember(self, key: K, value: V, generation: int) -> None:
        """Keep a value derived from reads made at `generation` (dropped if the data moved on since)."""
        if generation == self.generation.value:
            self._store(key, value, generation)

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """The cached value, or `compute()`'s, computed once per key at a time (blocking: in a thread)."""
        fresh = self.peek(key)
        if fresh is not None:
            return fresh
        entry = self._entries.get(key)
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        # While one caller computes, callers holding a value of the current generation that only aged
        # past its TTL get it (stale-while-revalidate, so the "last hour" windows never stall a hundred
        # readers); after new data everyone waits for the new value.
        current = entry is not None and entry[1] == self.generation.value
        if not lock.acquire(blocking=not current):
            assert entry is not None
            return entry[2]
        try:
            fresh = self.peek(key)
            if fresh is not None:
                return fresh
            generation = self.generation.value
            value = compute()
            self._store(key, value, generation)
            return value
        finally:
            lock.release()

    def _store(self, key: K, value: V, generation: int) -> None:
        if len(self._entries) > self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, generation, value)
