"""Caches of opened models bounded in bytes, shared by every session of the server.

Streamlit's ``cache_resource`` bounds a cache by its number of entries; twelve VGG16s are not
twelve MNIST models. Here each cache has a byte budget (``KERASCOPE_CACHE_MB``, see
``extraction.settings.CACHE_BYTES``) shared by the caches of opened records and of
runnable Keras models, and drops the least recently used entries beyond it. An entry's size is
measured again on every access, because arrays are read lazily: a model grows as its layers
are looked at. The entry just used is never dropped, so one model larger than the budget is
still served.

Pure Python (no Streamlit), so it is tested directly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from kerascope.extraction.records import ModelWeights
from kerascope.extraction.settings import Settings

V = TypeVar("V")


class ByteLRU(Generic[V]):
    """Values by key, least recently used dropped when all of them outgrow the budget.

    Thread-safe; concurrent requests for one key open it once (the others wait for it).
    Failures are not cached.

    Not ``cachetools.LRUCache(getsizeof=...)``: that measures an entry once, when it is added,
    refuses one larger than the budget, and bounds one cache alone; here entries grow as their
    arrays are read, one model larger than the budget is still served, and two caches share a
    budget.
    """

    def __init__(self, size_of: Callable[[V], int], budget: Callable[[], int]) -> None:
        self._size_of = size_of
        self._budget = budget
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._opening: dict[Hashable, threading.Lock] = {}
        self._linked: list[ByteLRU[Any]] = [self]

    def share_budget(self, other: ByteLRU[Any]) -> None:
        """Count ``other``'s entries against this budget too (and this one's against its)."""
        self._linked.append(other)
        other._linked.append(self)

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value for ``key``, made by ``make()`` when absent."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
        if hit is not None:
            self.trim(keep=key)  # entries grow as their arrays are read: measure again
            return hit
        with self._lock:
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            try:
                value = make()
            finally:
                with self._lock:
                    self._opening.pop(key, None)
            with self._lock:
                self._items[key] = value
        self.trim(keep=key)
        return value

    def trim(self, keep: Hashable = None) -> None:
        """Drop least recently used entries (of every cache sharing the budget) beyond it."""
        budget = self._budget()
        while True:
            total = sum(cache.nbytes() for cache in self._linked)
            if total <= budget:
                return
            victim = self._oldest(keep)
            if victim is None:
                return
            cache, key = victim
            with cache._lock:
                cache._items.pop(key, None)

    def _oldest(self, keep: Hashable) -> tuple[ByteLRU[Any], Hashable] | None:
        """The least recently used entry of the sharing cache that holds the most (so one
        cache does not starve another); never ``keep`` of this cache."""
        best: tuple[int, ByteLRU[Any], Hashable] | None = None
        for cache in self._linked:
            keys = [k for k in cache.keys() if not (cache is self and k == keep)]
            if keys and (best is None or cache.nbytes() > best[0]):
                best = (cache.nbytes(), cache, keys[0])
        return None if best is None else (best[1], best[2])

    def nbytes(self) -> int:
        """What the entries hold now."""
        with self._lock:
            values = list(self._items.values())
        return sum(self._size_of(v) for v in values)

    def keys(self) -> list[Hashable]:
        """The keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def cache_bytes() -> int:
    """The byte budget the app's model caches share now (``KERASCOPE_CACHE_MB``)."""
    return Settings.from_env().cache_bytes


def records_bytes(model: ModelWeights) -> int:
    """Memory opened records hold: every array read so far; all of them with a live model."""
    if model.live_model is not None:
        return sum(w.nbytes for _, w in model.iter_weights())
    return model.store.loaded_bytes()


def keras_bytes(model: Any) -> int:
    """Memory a Keras model's variables hold."""
    import numpy as np

    total = 0
    for variable in getattr(model, "weights", []) or []:
        try:
            size = int(np.prod(variable.shape)) * np.dtype(str(variable.dtype)).itemsize
        except TypeError:
            size = int(np.prod(variable.shape)) * 4
        total += size
    return total


__all__ = ["ByteLRU", "cache_bytes", "keras_bytes", "records_bytes"]
