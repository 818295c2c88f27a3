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
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

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
    """``auto``, ``float32``, ``float16``, ``bfloat16``. ``auto`` is float32 on CPU; on an
    accelerator it follows the checkpoint's declared dtype when that is bfloat16 (bfloat16 where
    the device supports it, else float32: a bf16-trained model such as Qwen2.5 overflows in
    float16), and is float16 otherwise (see :func:`resolve_dtype`)."""
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
    def coerce(cls, ref: ModelRef | str | Mapping[str, Any]) -> ModelRef:
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
        declared = (
            declared_dtype(self)
            if self.dtype == "auto" and device_type != "cpu" and library == "transformers"
            else None
        )
        kw[_dtype_key(library)] = resolve_dtype(self.dtype, device_type, declared)
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
    """The torch dtype for a setting when the checkpoint declares none: ``auto`` is float16 on
    an accelerator, float32 on CPU (half precision on CPU is slow and some kernels lack it)."""
    return resolve_dtype(name, device_type, None)


def resolve_dtype(name: str, device_type: str, declared: str | None, bf16_supported: bool | None = None):
    """The torch dtype to load with. ``auto``: float32 on CPU; on an accelerator the checkpoint's
    ``declared`` dtype if it is bfloat16 (float32 where the device lacks bfloat16), else float16.
    Why: float16 has a narrower range than bfloat16, and models trained in bfloat16 (Qwen2.5,
    for one) are known to overflow to NaN or garbage in float16; models saved in float32 or
    float16 run in float16 as usual. ``bf16_supported`` None asks the device."""
    import torch

    if name != "auto":
        return getattr(torch, name)
    if device_type == "cpu":
        return torch.float32
    if declared == "bfloat16":
        ok = _bf16_supported(device_type) if bf16_supported is None else bf16_supported
        return torch.bfloat16 if ok else torch.float32
    return torch.float16


def _bf16_supported(device_type: str) -> bool:
    """CUDA devices say so themselves; other accelerators (mps, ...) are not assumed to."""
    import torch

    return device_type == "cuda" and torch.cuda.is_available() and bool(torch.cuda.is_bf16_supported())


def declared_dtype(ref: ModelRef) -> str | None:
    """The dtype a transformers checkpoint declares in its ``config.json`` (``dtype``, or the older
    ``torch_dtype``; for a composite model the text model's), or None when it declares none or the
    config cannot be read (the loader then reports the real problem)."""
    import json

    try:
        if ref.is_local:
            path = Path(ref.location()) / "config.json"
        else:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(ref.path, "config.json", revision=ref.revision))
        cfg = json.loads(path.read_text())
    except Exception:
        return None
    for table in (cfg, cfg.get("text_config") or {}):
        value = table.get("dtype") or table.get("torch_dtype") if isinstance(table, dict) else None
        if isinstance(value, str):
            return value.replace("torch.", "")
    return None


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
    """Whether a model can be had without surprises (see :func:`hub_status`)."""
    status, where = hub_status(ref)
    return status in REACHABLE, where


#: :func:`hub_status` values under which a model can be loaded.
REACHABLE = ("local", "cached", "on-hub")


def hub_status(ref: ModelRef) -> tuple[str, str]:
    """``(status, explanation)`` for a model reference, nothing downloaded but a file listing.

    Status: ``local`` (a folder), ``cached`` (in the Hugging Face cache), ``on-hub`` (the hub
    has it; the explanation lists file problems found in its listing, see :func:`file_problems`,
    and then the status is ``files``), ``not-found`` (the hub answers that the repository does
    not exist: removed, renamed or private), ``gated`` (licence to accept and login needed),
    ``revision-not-found``, ``not-cached-offline`` (HF_HUB_OFFLINE set: the hub was not asked),
    ``hub-unreachable`` (no connection: not asked either) or ``hub-error``. The hub's answers
    are told apart by huggingface_hub's own error types, not by message text."""
    if ref.is_local:
        return "local", f"local folder {ref.location()}"
    if "/" not in ref.path and not ref.path.startswith("."):
        return "not-found", f"{ref.path!r} is neither a local folder nor a hub id (owner/name)"
    try:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("model_index.json", "config.json"):
            hit = try_to_load_from_cache(ref.path, filename, revision=ref.revision)
            if isinstance(hit, str):
                return "cached", f"hub id {ref.path}, in the local cache"
    except Exception:  # an old or missing huggingface_hub: fall through to the online check
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return (
            "not-cached-offline",
            f"hub id {ref.path}: not cached; HF_HUB_OFFLINE is set, so the hub was not asked whether it exists",
        )
    endpoint = os.environ.get("HF_ENDPOINT") or f"https://{_HUB_HOST}"
    if not _hub_online(endpoint):
        return (
            "hub-unreachable",
            f"hub id {ref.path}: not cached; the hub ({endpoint}) is not reachable from here, so whether it exists was not checked",
        )
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        info = HfApi(endpoint=endpoint).model_info(ref.path, revision=ref.revision, timeout=10)
    except OfflineModeIsEnabled:  # the library read HF_HUB_OFFLINE when it was imported
        return (
            "not-cached-offline",
            f"hub id {ref.path}: not cached; offline mode is on, so the hub was not asked whether it exists",
        )
    except GatedRepoError:  # a subclass of RepositoryNotFoundError: test it first
        return "gated", f"hub id {ref.path}: gated; accept its licence on the hub and log in (hf auth login) first"
    except RevisionNotFoundError:
        return "revision-not-found", f"hub id {ref.path}: the hub has no revision {ref.revision!r}"
    except RepositoryNotFoundError:
        return (
            "not-found",
            f"hub id {ref.path}: NOT FOUND on the hub (removed, renamed or private); point the preset at another repository or a local folder",
        )
    except Exception as e:
        return "hub-error", f"hub id {ref.path}: not cached, and the hub did not answer ({type(e).__name__})"
    files = [s.rfilename for s in (info.siblings or [])]
    problems = file_problems(files, ref)
    if problems:
        return "files", f"hub id {ref.path}: on the hub, but " + "; ".join(problems)
    return "on-hub", f"hub id {ref.path}, on the hub, to be downloaded"


WEIGHT_FILE_PATTERN = re.compile(
    r"^(?P<stem>.+?)(?:\.(?P<variant>[A-Za-z0-9_]+))?(?P<shard>-\d{5}-of-\d{5})?\.(?P<ext>safetensors|bin|ckpt|pt|pth)$"
)


def file_problems(files: list[str], ref: ModelRef) -> list[str]:
    """What in a repository's file list would make loading ``ref`` fail or surprise: a component
    folder (or the root) whose safetensors weights exist only under a variant the preset does not
    name (``variant = "fp16"`` is the fix, not pickles), only pickled weights while
    ``use_safetensors`` is on, or a named variant that no file carries."""
    by_folder: dict[str, list[re.Match]] = {}
    for f in files:
        m = WEIGHT_FILE_PATTERN.match(f.rsplit("/", 1)[-1])
        if m and f.count("/") <= 1:
            by_folder.setdefault(f.rsplit("/", 1)[0] if "/" in f else ".", []).append(m)
    problems = []
    if ref.variant and not any(m.group("variant") == ref.variant for ms in by_folder.values() for m in ms):
        problems.append(f"no weight file of variant {ref.variant!r}")
    for folder, ms in sorted(by_folder.items()):
        st = [m for m in ms if m.group("ext") == "safetensors"]
        plain = [m for m in st if m.group("variant") in (None, ref.variant)]
        if ref.use_safetensors and not st and folder != ".":
            problems.append(
                f"{folder}/ has only pickled weights (set use_safetensors = false to load them with weights_only=True)"
            )
        elif ref.use_safetensors and st and not plain and folder != ".":
            variants = sorted({m.group("variant") for m in st})
            problems.append(
                f"{folder}/ has safetensors only for variant {', '.join(variants)}: set variant = {variants[0]!r}"
            )
    return problems


_HUB_HOST = "huggingface.co"
_HUB_STATE: dict[str, bool] = {}


def _hub_online(endpoint: str, timeout: float = 3.0) -> bool:
    """One TCP probe per endpoint and process (so listing a dozen models offline takes seconds, not minutes)."""
    if endpoint not in _HUB_STATE:
        import socket
        from urllib.parse import urlsplit

        url = urlsplit(endpoint)
        port = url.port or (80 if url.scheme == "http" else 443)
        try:
            socket.create_connection((url.hostname or _HUB_HOST, port), timeout=timeout).close()
            _HUB_STATE[endpoint] = True
        except OSError:
            _HUB_STATE[endpoint] = False
    return _HUB_STATE[endpoint]
