"""Model references: what to load and how, as plain data, with safe defaults.

A :class:`ModelRef` names a model by hub id or local folder and says how to load it. Two
defaults exist for security and are only changed by an explicit setting in a preset:

- ``trust_remote_code=False``: a checkpoint that ships Python code (``auto_map`` in its
  config) is refused instead of executed.
- ``use_safetensors=True``: pickled checkpoints (``*.bin``, ``*.ckpt``) are refused; with
  ``use_safetensors=False`` the libraries load them through ``torch.load(weights_only=True)``
  (transformers 5 and diffusers >= 0.30 do so), never with full unpickling.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

DTYPES = ("auto", "float32", "float16", "bfloat16")


class ModelLoadError(RuntimeError):
    """A model could not be loaded: the message names the model and what to do."""


class BackendLoadError(ModelLoadError, ValueError):
    """The critic's, evaluator's or extractor's model failed to load at the first ``reset``: a
    configuration error, so one clear line (a ValueError, which the ``poser`` CLI prints as
    such) naming the preset entry, the model and the fix, instead of a loader's traceback."""


@dataclass(frozen=True)
class ModelRef:
    """How to load one model (any diffusers pipeline or transformers model)."""

    path: str
    """Hub id (``"stabilityai/sdxl-turbo"``) or local folder."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) to pin; None = the default branch."""
    variant: str | None = None
    """Weight file variant, e.g. ``"fp16"`` (diffusers); None = the default files."""
    dtype: str = "auto"
    """``auto`` (float16 on an accelerator, float32 on CPU), ``float32``, ``float16``, ``bfloat16``."""
    trust_remote_code: bool = False
    """Run Python code shipped with the checkpoint. Off; a preset may ask for it, the caller's flag decides."""
    use_safetensors: bool = True
    """Refuse pickled weights. With False, pickles load with ``weights_only=True``."""

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.strip():
            raise ValueError(f"a model reference needs a non-empty 'path' (hub id or local folder), got {self.path!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"model {self.path!r}: unknown dtype {self.dtype!r}; allowed: {', '.join(DTYPES)}")
        for name in ("trust_remote_code", "use_safetensors"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"model {self.path!r}: {name} must be true or false, got {getattr(self, name)!r}")

    @classmethod
    def coerce(cls, ref: "ModelRef | str | Mapping[str, Any]") -> "ModelRef":
        """A path string, a dict of :class:`ModelRef` fields, or a ModelRef."""
        if isinstance(ref, ModelRef):
            return ref
        if isinstance(ref, (str, os.PathLike)):
            return cls(path=str(ref))
        if isinstance(ref, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = set(ref) - known
            if unknown:
                raise ValueError(f"unknown model field(s) {sorted(unknown)}; allowed: {', '.join(sorted(known))}")
            return cls(**dict(ref))
        raise ValueError(f"a model must be a hub id, a folder or a table of {{path, revision, ...}}, got {ref!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def is_local(self) -> bool:
        return Path(self.path).expanduser().exists()

    def load_kwargs(self, device_type: str, library: str = "transformers") -> dict[str, Any]:
        """Keyword arguments for ``from_pretrained`` of ``library`` (diffusers or transformers)."""
        kw: dict[str, Any] = {"use_safetensors": self.use_safetensors}
        if self.revision:
            kw["revision"] = self.revision
        if self.variant:
            kw["variant"] = self.variant
        kw[_dtype_key(library)] = torch_dtype(self.dtype, device_type)
        return kw

    def location(self) -> str:
        return str(Path(self.path).expanduser()) if self.is_local else self.path


def _dtype_key(library: str) -> str:
    """``dtype`` where the library takes it (transformers >= 4.56, diffusers >= 0.42, which warn
    about ``torch_dtype``), else ``torch_dtype``."""
    from importlib.metadata import PackageNotFoundError, version

    since = {"transformers": (4, 56), "diffusers": (0, 42)}[library]
    try:
        parts = tuple(int(p) for p in version(library).split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return "torch_dtype"
    return "dtype" if parts >= since else "torch_dtype"


def torch_dtype(name: str, device_type: str):
    """The torch dtype for a setting; ``auto`` is float16 on an accelerator, float32 on CPU
    (half precision on CPU is slow and some kernels lack it)."""
    import torch

    if name == "auto":
        return torch.float32 if device_type == "cpu" else torch.float16
    return getattr(torch, name)


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks cuda, then mps, then cpu: the same tests run wherever they are started."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def reachable(ref: ModelRef) -> tuple[bool, str]:
    """Whether a model can be had without surprises: a local folder present, or a hub id that
    is in the local cache or could be downloaded (a hub is reachable and not offline)."""
    if ref.is_local:
        return True, f"local folder {ref.location()}"
    if "/" not in ref.path and not ref.path.startswith("."):
        return False, f"{ref.path!r} is neither a local folder nor a hub id (owner/name)"
    try:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("model_index.json", "config.json"):
            hit = try_to_load_from_cache(ref.path, filename, revision=ref.revision)
            if isinstance(hit, str):
                return True, f"hub id {ref.path}, in the local cache"
    except Exception:  # an old or missing huggingface_hub: fall through to the online check
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False, f"hub id {ref.path}: not cached, and HF_HUB_OFFLINE is set"
    if not _hub_online():
        return False, f"hub id {ref.path}: not cached, and the hub ({_HUB_HOST}) is not reachable from here"
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(ref.path, revision=ref.revision, timeout=5)
        return True, f"hub id {ref.path}, to be downloaded"
    except Exception as e:
        return False, f"hub id {ref.path}: not cached and not reachable ({type(e).__name__})"


_HUB_HOST = "huggingface.co"
_HUB_STATE: dict[str, bool] = {}


def _hub_online(timeout: float = 3.0) -> bool:
    """One TCP probe of the hub per process (so listing a dozen models offline takes seconds, not minutes)."""
    if "online" not in _HUB_STATE:
        import socket

        host = os.environ.get("HF_ENDPOINT", "").split("://")[-1].split("/")[0] or _HUB_HOST
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            _HUB_STATE["online"] = True
        except OSError:
            _HUB_STATE["online"] = False
    return _HUB_STATE["online"]
