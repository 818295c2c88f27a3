"""Per-process memoisation for the env's pure functions (rendering, detection, extraction).

An agent's loop repeats itself: an edit that fails leaves the scene unchanged, every
generation task starts from the same blank canvas, a training run draws each suite task
several times. The renderer, the pixel detector and the grammar extractor are pure
functions of their input, so their results are kept in small bounded LRU caches:
:class:`LRU` (bounded by entries and by bytes) and :func:`pixel_key` (a digest of an image's
pixels, so a cache keyed by it still reads only pixels). Caches change speed, never results:
``tests/test_rollout_digest.py`` holds seeded episodes bit for bit.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import numpy as np

V = TypeVar("V")


class LRU(Generic[V]):
    """A thread-safe least-recently-used map with at most ``max_items`` entries and, when
    ``size_of`` is given, at most ``max_bytes`` in total (an entry larger than that is not
    kept). ``hits`` and ``misses`` count :meth:`get` calls."""

    def __init__(self, max_items: int, max_bytes: int | None = None, size_of: Callable[[V], int] | None = None) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        self.max_items, self.max_bytes, self._size_of = max_items, max_bytes, size_of
        self._d: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._d)

    def __getstate__(self) -> dict[str, Any]:
        # Envs are pickled and deep-copied (vector envs, snapshots): the copy starts empty.
        state = self.__dict__.copy()
        del state["_lock"]
        state["_d"], state["_bytes"] = OrderedDict(), 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            hit = self._d.get(key)
            if hit is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return hit[0]

    def put(self, key: Hashable, value: V) -> V:
        size = self._size_of(value) if self._size_of is not None else 0
        if self.max_bytes is not None and size > self.max_bytes:
            return value
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._d[key] = (value, size)
            self._bytes += size
            while len(self._d) > self.max_items or (self.max_bytes is not None and self._bytes > self.max_bytes):
                self._bytes -= self._d.popitem(last=False)[1][1]
        return value

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._bytes = 0
            self.hits = self.misses = 0


#: The last few images digested (or handed over with their digest by :func:`remember_key`),
#: each with its form (dtype and shape), a copy of its bytes and its key: the env digests the
#: same canvas several times per step (the critic's cache, the observation's image features,
#: the extractor's cache). Only small images are kept.
_RECENT: list[tuple[np.ndarray, str, bytes, bytes]] = []
_RECENT_ITEMS, _RECENT_MAX_BYTES = 4, 1 << 20
_RECENT_LOCK = threading.Lock()


def _form(image: np.ndarray) -> str:
    return f"{image.dtype.str}{image.shape}"  # an array's shape (even its dtype) can be set in place


def pixel_key(image: Any) -> bytes | None:
    """A digest of an image's pixels, dtype and shape (SHA-1 of the bytes: about 30 us at
    128 x 128 on one core), or None for something that is not a numeric array (the caller
    then computes without a cache and reports the error as usual).

    The same array object asked again with the same bytes (compared with a copy taken at its
    first digest: about a quarter of a digest's cost) gets its key without hashing; an array
    changed in place since is hashed anew."""
    if not isinstance(image, np.ndarray) or image.dtype.kind not in "uif":
        return None
    with _RECENT_LOCK:
        recent = [(form, snap, key) for arr, form, snap, key in _RECENT if arr is image]
    form = _form(image)
    for was, snap, key in recent:
        if was == form and image.tobytes() == snap:
            return key
    key = digest(image)
    remember_key(image, key, image.tobytes() if image.nbytes <= _RECENT_MAX_BYTES else None)
    return key


def digest(image: np.ndarray) -> bytes:
    """:func:`pixel_key` of a numeric array, always hashed (nothing remembered)."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(_form(image).encode())
    h.update(np.ascontiguousarray(image).data)
    return h.digest()


def remember_key(image: np.ndarray, key: bytes, snapshot: bytes | None) -> None:
    """Let :func:`pixel_key` answer ``key`` for ``image`` while its bytes equal ``snapshot``
    (``image.tobytes()`` when the caller had it: ``key`` must be that content's digest). For
    code that hands out copies of an image it has digested (the renderer's cache)."""
    if snapshot is None or len(snapshot) > _RECENT_MAX_BYTES:
        return
    with _RECENT_LOCK:
        _RECENT.insert(0, (image, _form(image), snapshot, key))
        del _RECENT[_RECENT_ITEMS:]
