"""The text-encoder factory: :func:`make_text_encoder` builds an encoder by name, cached.

Names: ``"hash"``, ``"minilm"``, a local sentence-transformers folder, ``"module:Class"`` or an
encoder object; the result is always wrapped in a
:class:`~poser_env.encoders.text_cache.CachedTextEncoder`.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from poser_env.encoders.hash_text import HashTextEncoder
from poser_env.encoders.minilm import MiniLMEncoder, looks_like_path
from poser_env.encoders.text_cache import CachedTextEncoder
from poser_env.encoders.text_contract import TextEncoder

#: Names accepted by :func:`make_text_encoder` (besides a local folder and ``"module:Class"``).
TEXT_ENCODERS: tuple[str, ...] = ("hash", "minilm")

_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _allowed() -> str:
    return "'hash', 'minilm', a local sentence-transformers folder, or 'package.module:Class' (a TextEncoder class)"


def make_text_encoder(name: str | TextEncoder, *, cache_size: int = 32768, **kwargs: Any) -> CachedTextEncoder:
    """Build a text encoder by name, wrapped in a :class:`CachedTextEncoder`.

    Args:
        name: ``"hash"`` (:class:`HashTextEncoder`, kwargs ``dim``, ``ngram``, ``char_ngram``,
            ``char_weight``, ``seed``); ``"minilm"`` (:class:`MiniLMEncoder`, kwargs
            ``model``, ``device``, ``batch_size``); the path of an existing local folder
            (``MiniLMEncoder(model=name, ...)``); ``"package.module:Class"``, a class
            (or factory) called with ``**kwargs`` that returns a :class:`TextEncoder`, which
            keeps environment kwargs plain data; or an encoder object, wrapped as is.
        cache_size: ``max_size`` of the LRU cache (default 32768: every prompt and command of
            the train split fits, so each distinct string is embedded once per process; about
            50 MB of 384-d vectors when full).

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
                f"text encoder entry point {key!r} returned {type(enc).__name__}, which lacks dim, name or encode"
            )
    else:
        looks_path = bool(key) and looks_like_path(key)
        reason = " (no such folder)" if looks_path else ""
        raise ValueError(f"unknown text encoder {name!r}{reason}; allowed: {_allowed()}")
    return CachedTextEncoder(enc, max_size=cache_size)
