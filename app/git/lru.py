"""Byte-bounded, thread-safe LRU cache, and a null cache with the same interface.

Rules:
1. The bound is on the *sum of the values' sizes in bytes* (as git's
   ``core.deltaBaseCacheLimit``, git:packfile.c ``add_delta_base_cache``), not on a count.
2. A value larger than the whole budget is never stored: caching it would evict everything.
3. Every operation holds one ``threading.Lock`` for O(1) work; the HTTP shell calls the
   engine from several worker threads at once.
4. Callers get a cache passed in (gix-pack's ``cache::Never`` model); ``NullCache`` is the
   default for plumbing, the object database installs a real one.

``app.http.lru.LoopLRU`` is the shell's counterpart: the same eviction, but no lock, because
only the event loop touches it. The engine cannot use that one (rule 3), and the shell's
hot path should not pay for this one's lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)
V = TypeVar("V")


class Cache(Protocol[K_contra, V]):
    """What a cache offers to the pack decoder: lookup and insertion with a byte size."""

    def get(self, key: K_contra) -> V | None:
        """Return the cached value or ``None``."""
        ...

    def put(self, key: K_contra, value: V, nbytes: int) -> None:
        """Store ``value``, accounted as ``nbytes`` bytes."""
        ...


class NullCache(Generic[K, V]):
    """A cache that stores nothing."""

    def get(self, key: K) -> V | None:
        """Always ``None``."""
        return None

    def put(self, key: K, value: V, nbytes: int) -> None:
        """Discard the value."""


class ByteLRU(Generic[K, V]):
    """Least-recently-used cache whose values' total size stays at or under ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """Return the value for ``key`` (marking it most recently used) or ``None``."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: K, value: V, nbytes: int) -> None:
        """Insert or replace ``key``; evict least recently used values until within budget.
        A value over the whole budget is not kept, and the old value of ``key`` goes too."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if nbytes > self.max_bytes:
                return
            self._items[key] = (value, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                _, (_, size) = self._items.popitem(last=False)
                self._bytes -= size

    def clear(self) -> None:
        """Drop every value."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Total accounted size of the cached values."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
