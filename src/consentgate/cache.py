"""One cache type for every cache consentgate keeps: bounded by bytes, least recently used out.

Keys and values come from requests (cookies, paths, headers), so a cache bounded by its number of
entries can still be made to hold gigabytes; this one counts an estimate of the bytes each entry
holds and evicts the least recently used entries until the total fits. An entry larger than a
quarter of the budget is never kept.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["ENTRY_OVERHEAD", "LRUCache", "size_of"]

K = TypeVar("K")
V = TypeVar("V")

#: What a cached entry costs beyond its payload: the dict slot, the key tuple, the value object.
ENTRY_OVERHEAD = 200


def size_of(*parts: object) -> int:
    """A cheap estimate of the bytes held by ``parts`` (strings, bytes, tuples of them)."""
    total = ENTRY_OVERHEAD
    for part in parts:
        if isinstance(part, (bytes, str)):
            total += len(part) + 50
        elif isinstance(part, (tuple, list, frozenset)):
            total += 56 + 8 * len(part) + sum(size_of(p) - ENTRY_OVERHEAD for p in part)
        else:
            total += 32
    return total


class LRUCache(Generic[K, V]):
    """A mapping from ``K`` to ``V`` that holds at most ``max_bytes`` (by the sizes it is told)."""

    __slots__ = ("_clock", "_data", "_largest", "max_bytes", "name", "used")

    def __init__(self, max_bytes: int, *, name: str = "") -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self.name = name
        self.used = 0
        self._largest = max_bytes // 4
        #: key to (value, size, the insertion count when it was last put at the young end)
        self._data: OrderedDict[K, tuple[V, int, int]] = OrderedDict()
        self._clock = 0

    def get(self, key: K) -> V | None:
        """The value for ``key`` (now among the most recently used), or ``None``.

        Moving an entry to the young end on every hit costs more than the lookup itself, so an
        entry is only moved once it has aged past the older half of the cache: the entries
        evicted first are still ones not used for at least half the cache's turnover.
        """
        found = self._data.get(key)
        if found is None:
            return None
        if self._clock - found[2] > len(self._data) >> 1:
            self._clock += 1
            self._data[key] = (found[0], found[1], self._clock)
            self._data.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` under ``key``; ``size`` is the bytes it holds (see :func:`size_of`)."""
        if size > self._largest:
            return
        data = self._data
        old = data.pop(key, None)
        if old is not None:
            self.used -= old[1]
        self._clock += 1
        data[key] = (value, size, self._clock)
        self.used += size
        while self.used > self.max_bytes:
            _, (_, freed, _) = data.popitem(last=False)
            self.used -= freed

    def clear(self) -> None:
        """Drop every entry."""
        self._data.clear()
        self.used = 0
        self._clock = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"<LRUCache {self.name!r} {len(self._data)} entries, {self.used}/{self.max_bytes} B>"
