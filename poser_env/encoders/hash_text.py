"""The hash text encoder (``"hash"``): hashed word and character n-grams, no dependency.

:class:`HashTextEncoder`: hashed word 1- and 2-grams plus character 3-grams, signed hashing
trick, 128 dimensions by default. No dependency, microseconds per string, identical in every
process and on every machine (it uses BLAKE2b, never Python's salted ``hash()``).
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from poser_env.encoders.text_contract import check_texts

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
        if (
            isinstance(char_ngram, bool)
            or not isinstance(char_ngram, int)
            or not (char_ngram == 0 or 2 <= char_ngram <= 6)
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
        # Per word: the buckets and signed weights of its character n-grams (words recur far
        # more than texts do), in the order features() lists them.
        self._word_memo: dict[str, tuple[list[int], list[float]]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"HashTextEncoder(dim={self.dim}, ngram={self.ngram}, char_ngram={self.char_ngram}, "
            f"char_weight={self.char_weight:g}, seed={self.seed})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_memo"] = {}
        state["_word_memo"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _bucket(self, feature: str) -> tuple[int, float]:
        hit = self._memo.get(feature)
        if hit is not None:
            return hit
        h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8, key=self._key).digest(), "little")
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

    def _char_features(self, word: str) -> tuple[list[int], list[float]]:
        """Buckets and signed weights of ``word``'s character n-grams (memoised per word)."""
        hit = self._word_memo.get(word)
        if hit is not None:
            return hit
        c, weight, padded = self.char_ngram, self.char_weight, "<" + word + ">"
        pairs = [self._bucket("c:" + padded[i : i + c]) for i in range(max(1, len(padded) - c + 1))]
        hit = ([b for b, _ in pairs], [sign * weight for _, sign in pairs])
        with self._lock:
            if len(self._word_memo) >= self._MEMO_LIMIT:
                self._word_memo.clear()
            self._word_memo[word] = hit
        return hit

    def _encode_one(self, text: str) -> np.ndarray:
        # The features of features(), in the same order (so the same sums, bit for bit), with
        # each word's character n-grams hashed once per process.
        words = _WORD.findall(unicodedata.normalize("NFKC", text).lower())
        memo, bucket = self._memo, self._bucket
        idx: list[int] = []
        val: list[float] = []
        lo, hi = self.ngram
        for n in range(lo, hi + 1):
            for i in range(len(words) - n + 1):
                f = "w" + str(n) + ":" + " ".join(words[i : i + n])
                b, sign = memo.get(f) or bucket(f)
                idx.append(b)
                val.append(sign * 1.0)
        if self.char_ngram and self.char_weight > 0:
            for w in words:
                b_w, v_w = self._char_features(w)
                idx += b_w
                val += v_w
        if not idx:
            return np.zeros(self.dim, dtype=np.float32)
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
