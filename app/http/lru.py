"""A small least-recently-used map for state the event loop owns.

Rule: only the event-loop thread touches an ``LoopLRU`` (worker threads hand their results
back to the loop, which inserts them), so it needs no lock — a lock per warm request is
exactly the overhead the hot path avoids. Bounded by a cost sum (bytes, or 1 per entry).

``app.git.lru.ByteLRU`` is the engine's counterpart: the same eviction behind a lock, for
caches that worker threads share. Use that one for anything a worker thread touches.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LoopLRU(Generic[K, V]):
    """Map whose entries' total cost stays at or under ``budget``; oldest use evicted first."""

    __slots__ = ("budget", "_items", "_cost")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._cost = 0

    def get(self, key: K) -> V | None:
        """The value for ``key`` (now most recently used), or None."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: K, value: V, cost: int = 1) -> None:
        """Insert or replace ``key``; a value costing more than the whole budget is not kept."""
        old = self._items.pop(key, None)
        if old is not None:
            self._cost -= old[1]
        if cost > self.budget:
            return
        self._items[key] = (value, cost)
        self._cost += cost
        while self._cost > self.budget:
            _, (_, dropped) = self._items.popitem(last=False)
            self._cost -= dropped

    def pop(self, key: K) -> None:
        """Forget ``key`` if present."""
        old = self._items.pop(key, None)
        if old is not None:
            self._cost -= old[1]
