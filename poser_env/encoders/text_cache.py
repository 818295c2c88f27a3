"""The text-encoder cache: :class:`CachedTextEncoder`, an LRU cache in front of any encoder.

An environment asks for the same instruction strings at every step, so
:func:`~poser_env.encoders.text_factory.make_text_encoder` always wraps its encoder in one.
:meth:`CachedTextEncoder.preload` embeds a known set of strings up front, in large batches,
and keeps them outside the LRU bound (the env preloads its split's texts with a model encoder:
``EnvConfig.precompute_text``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from poser_env.encoders.text_contract import TextEncoder, check_texts, is_blank


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    max_size: int
    size: int


class PreloadInfo(NamedTuple):
    """What one :meth:`CachedTextEncoder.preload` did and cost."""

    strings: int  # distinct non-blank strings asked for
    computed: int  # of which the inner encoder embedded now (the others were held already)
    calls: int  # calls to the inner encoder
    seconds: float  # wall-clock seconds
    cpu_seconds: float  # this process's CPU seconds


#: Strings per call to the inner encoder in :meth:`CachedTextEncoder.preload`: large enough
#: that a model batches well (sentence-transformers sorts each call by length and runs it in
#: its own ``batch_size``), small enough to bound a custom encoder's working memory.
PRELOAD_CHUNK = 1024


class CachedTextEncoder:
    """An LRU cache in front of a text encoder: each distinct string is encoded once.

    ``encode(texts)`` looks every string up; the strings not in the cache (the misses, each
    distinct string once, even if repeated in the call) go to the inner encoder in *one*
    call, in first-seen order; the results are stored (read-only) and the least recently
    used entries are evicted beyond ``max_size``. The returned array is always new, so the
    caller may modify it. Blank strings map to the zero vector without reaching the inner
    encoder and count neither as hits nor as misses; every other string counts once, as a
    miss if the inner encoder computed it in this call, else as a hit.

    :meth:`preload` embeds a given set of strings at once (for an env: every string its
    split's tasks will ask for) and *pins* them: pinned strings are never evicted, and
    ``max_size`` bounds only the others, so the cache holds a whole split whatever its size.

    The inner encoder's output is checked (shape ``(m, dim)``, finite); a broken custom
    encoder raises ``ValueError`` naming it. ``dim`` and ``name`` are the inner encoder's.
    Thread-safe.

    Args:
        inner: any :class:`TextEncoder`.
        max_size: most strings kept, >= 1 (default 4096: about 6 MB for 384-d vectors).
    """

    def __init__(self, inner: TextEncoder, max_size: int = 4096) -> None:
        if isinstance(inner, CachedTextEncoder):
            inner = inner.inner
        for attr in ("dim", "name", "encode"):
            if not hasattr(inner, attr):
                raise TypeError(
                    f"{type(inner).__name__} is not a TextEncoder: it has no {attr!r} "
                    "(needs dim: int, name: str, encode(texts) -> float32 array (n, dim))"
                )
        if isinstance(inner.dim, bool) or not isinstance(inner.dim, int) or inner.dim < 1:
            raise TypeError(f"{type(inner).__name__}.dim must be a positive int, got {inner.dim!r}")
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be a positive int, got {max_size!r}")
        self.inner = inner
        self.max_size = max_size
        self.hits = 0
        self.misses = 0
        self._store: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pinned: dict[str, np.ndarray] = {}
        #: What callers preloaded, by their own key (the env: its suite, split and extractor),
        #: so that each set is preloaded once per process; emptied by :meth:`clear`.
        self.preloaded: dict[Hashable, Any] = {}
        self._lock = threading.RLock()

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def name(self) -> str:
        return self.inner.name

    def __repr__(self) -> str:
        info = self.cache_info()
        return f"CachedTextEncoder({self.inner!r}, max_size={self.max_size}, size={info.size}, hits={info.hits}, misses={info.misses})"

    def __len__(self) -> int:
        return len(self._store) + len(self._pinned)

    @property
    def pinned(self) -> int:
        """How many strings :meth:`preload` pinned (held outside the LRU bound)."""
        return len(self._pinned)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def cache_info(self) -> CacheInfo:
        """Hits, misses, ``max_size`` and the strings held (pinned ones included)."""
        return CacheInfo(self.hits, self.misses, self.max_size, len(self))

    def clear(self) -> None:
        """Empty the cache (pinned strings and :attr:`preloaded` too) and reset the counters."""
        with self._lock:
            self._store.clear()
            self._pinned.clear()
            self.preloaded.clear()
            self.hits = 0
            self.misses = 0

    def preload(self, texts: Iterable[str], chunk: int = PRELOAD_CHUNK) -> PreloadInfo:
        """Embed ``texts`` now, in batches, and pin them: later ``encode`` calls find them.

        The distinct non-blank strings not held yet go to the inner encoder sorted by length
        (similar lengths pad least, and the order, hence each batch, is the same in every
        process), at most ``chunk`` per call; strings already in the LRU part are pinned as
        they are, without re-embedding. Hits and misses are not counted (they describe
        ``encode``). A model may give a string batched with others a vector that differs
        from its one-by-one vector in the last float bits (:class:`MiniLMEncoder`'s doc).
        """
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk must be a positive int, got {chunk!r}")
        if isinstance(texts, str):
            raise TypeError("preload takes an iterable of strings, not one string")
        wanted = {t: None for t in check_texts(list(texts)) if not is_blank(t)}
        t0, c0 = time.perf_counter(), time.process_time()
        calls = computed = 0
        dim = self.inner.dim
        with self._lock:
            todo = []
            for t in wanted:
                if t in self._pinned:
                    continue
                held = self._store.pop(t, None)
                if held is None:
                    todo.append(t)
                else:
                    self._pinned[t] = held
            todo.sort(key=lambda t: (len(t), t))
            for i in range(0, len(todo), chunk):
                part = todo[i : i + chunk]
                emb = self._checked(self.inner.encode(part), len(part), dim)
                calls += 1
                for t, row in zip(part, emb):
                    row = row.copy()
                    row.setflags(write=False)
                    self._pinned[t] = row
            computed = len(todo)
        return PreloadInfo(len(wanted), computed, calls, time.perf_counter() - t0, time.process_time() - c0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: a new ``float32`` array ``(len(texts), dim)``, cached per string."""
        items = check_texts(texts)
        dim = self.inner.dim
        out = np.zeros((len(items), dim), dtype=np.float32)
        with self._lock:
            missing: dict[str, None] = {}
            for i, t in enumerate(items):
                if is_blank(t):
                    continue
                vec = self._pinned.get(t)
                if vec is not None:
                    out[i] = vec
                    continue
                vec = self._store.get(t)
                if vec is None:
                    missing[t] = None
                else:
                    self._store.move_to_end(t)
                    out[i] = vec
            if missing:
                new = list(missing)
                emb = self._checked(self.inner.encode(new), len(new), dim)
                for t, row in zip(new, emb):
                    row = row.copy()
                    row.setflags(write=False)
                    self._store[t] = row
                while len(self._store) > self.max_size:
                    self._store.popitem(last=False)
                fresh = dict(zip(new, emb))
                for i, t in enumerate(items):
                    if t in fresh:
                        out[i] = fresh[t]
            nonblank = sum(1 for t in items if not is_blank(t))
            self.misses += len(missing)
            self.hits += nonblank - len(missing)
        return out

    def _checked(self, emb: Any, n: int, dim: int) -> np.ndarray:
        arr = np.asarray(emb)
        who = f"text encoder {self.inner.name!r} ({type(self.inner).__name__})"
        if arr.shape != (n, dim):
            raise ValueError(f"{who} returned shape {arr.shape} for {n} texts; expected ({n}, {dim})")
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise ValueError(f"{who} returned dtype {arr.dtype}; expected float32")
        arr = arr.astype(np.float32, copy=False)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{who} returned NaN or infinite values")
        return arr
