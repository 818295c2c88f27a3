"""Encoders that turn the environment's state into flat vectors for an RL observation.

- :mod:`poser_env.encoders.text`: text encoders (``hash``, ``minilm``, a cache and a factory).
- :mod:`poser_env.encoders.image`: :class:`ImageFeatures`, compact bounded canvas features.

Importing this package imports only numpy and the standard library (plus the shape world's
vocabulary); torch and sentence-transformers load when a MiniLM encoder is built.
See ``docs/encoders.md``.
"""

from poser_env.encoders.image import ImageFeatures, image_features
from poser_env.encoders.text import (
    TEXT_ENCODERS,
    CachedTextEncoder,
    CacheInfo,
    EncoderLoadError,
    HashTextEncoder,
    MiniLMEncoder,
    PreloadInfo,
    TextEncoder,
    make_text_encoder,
    packaged_minilm_path,
)

__all__ = [
    "TEXT_ENCODERS",
    "CacheInfo",
    "PreloadInfo",
    "CachedTextEncoder",
    "EncoderLoadError",
    "HashTextEncoder",
    "ImageFeatures",
    "MiniLMEncoder",
    "TextEncoder",
    "image_features",
    "make_text_encoder",
    "packaged_minilm_path",
]
