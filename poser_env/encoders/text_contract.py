"""The text-encoder contract: the :class:`TextEncoder` protocol, argument checks and load errors.

Contract of every encoder (:class:`TextEncoder`): ``encode(texts)`` takes a sequence of
strings (not a bare string) and returns a new ``float32`` array of shape ``(len(texts), dim)``
whose rows have unit L2 norm, except that a *blank* text (empty or whitespace only,
``not text.strip()``) maps to the zero vector, so that "nothing" (no remaining command) is
told apart from every real text. The hash encoder also gives the zero vector for a text with
no word character at all (``"?!"``). All entries are in ``[-1, 1]``.

The encoders are :mod:`poser_env.encoders.hash_text` and :mod:`poser_env.encoders.minilm`, the
cache :mod:`poser_env.encoders.text_cache`, the factory :mod:`poser_env.encoders.text_factory`;
:mod:`poser_env.encoders.text` re-exports all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


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
        raise TypeError("encode() takes a sequence of strings, got a single string; use encode([text])")
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"encode() takes a sequence of strings, got {type(texts).__name__}") from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"encode() takes strings; item {i} is {type(t).__name__}: {t!r:.80}")
    return items


def is_blank(text: str) -> bool:
    """Whether a text is empty or only whitespace (encoders map it to the zero vector)."""
    return not text.strip()
