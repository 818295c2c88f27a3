"""The model pool: every real model of a process, loaded once, placed by an LRU.

Why: a registry of a dozen experts plus a critic, an evaluator and an extractor does not fit
one GPU if each is loaded on its own. The pool

- loads lazily (nothing is read from disk until a component first needs it);
- loads each base checkpoint once, and derives every pipeline of that base (T2I, img2img,
  inpainting) with diffusers' ``from_pipe``, so they share the same module objects, hence the
  same parameter storage (measured in ``docs/real-models.md``);
- keeps at most ``max_on_device`` entries on the accelerator and moves the least recently
  used one back to CPU memory when another is needed (a model moves as a whole: all
  pipelines derived from a base move with it, since they share its modules).

Entries are keyed by their :class:`~poser_env.backends.models.ModelRef` plus a loader kind, so
two presets naming the same model in the same process share it. Components find their pool by
plain data (``pool={"device": "auto", "max_on_device": 2}``) through :func:`shared_pool`, which
keeps env kwargs JSON-serialisable.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from poser_env.backends.models import ModelLoadError, ModelRef, resolve_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolConfig:
    """Where models run and how many may sit on the accelerator at once."""

    device: str = "auto"
    """``auto`` (cuda, then mps, then cpu), or a torch device string such as ``cuda:1``."""
    max_on_device: int = 2
    """Entries (base checkpoints or transformers models) kept on the device; the rest wait in CPU memory."""
    offload_device: str = "cpu"
    """Where evicted entries go."""

    def __post_init__(self) -> None:
        if isinstance(self.max_on_device, bool) or not isinstance(self.max_on_device, int) or self.max_on_device < 1:
            raise ValueError(f"pool max_on_device must be a positive int, got {self.max_on_device!r}")

    @classmethod
    def coerce(cls, cfg: PoolConfig | Mapping[str, Any] | None) -> PoolConfig:
        if cfg is None:
            return cls()
        if isinstance(cfg, PoolConfig):
            return cfg
        unknown = set(cfg) - {"device", "max_on_device", "offload_device"}
        if unknown:
            raise ValueError(
                f"unknown pool setting(s) {sorted(unknown)}; allowed: device, max_on_device, offload_device"
            )
        return cls(**dict(cfg))


@dataclass
class _Entry:
    key: tuple
    obj: Any
    place: Callable[[Any, str], None]
    on_device: bool = False
    derived: dict | None = None


class ModelPool:
    """Lazily loaded models, shared pipelines, and an LRU of what sits on the accelerator."""

    def __init__(self, config: PoolConfig | Mapping[str, Any] | None = None):
        self.config = PoolConfig.coerce(config)
        self.device = resolve_device(self.config.device)
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()  # LRU order: oldest first
        self._lock = threading.RLock()
        self.loads = 0
        self.evictions = 0

    @property
    def device_type(self) -> str:
        return self.device.split(":")[0]

    # -- placement ---------------------------------------------------------------------------

    def on_device(self) -> list[tuple]:
        """Keys of the entries the pool has placed on the accelerator, least recent first."""
        return [k for k, e in self._entries.items() if e.on_device]

    def _touch(self, entry: _Entry) -> None:
        self._entries.move_to_end(entry.key)
        if not entry.on_device:
            resident = [e for e in self._entries.values() if e.on_device]
            while len(resident) >= self.config.max_on_device:
                victim = resident.pop(0)
                log.info("model pool: offloading %s to %s", _label(victim.key), self.config.offload_device)
                victim.place(victim.obj, self.config.offload_device)
                victim.on_device = False
                self.evictions += 1
            entry.place(entry.obj, self.device)
            entry.on_device = True

    def offload_all(self, keep: tuple | None = None) -> None:
        """Move every entry but ``keep`` off the accelerator (used to recover from an OOM)."""
        with self._lock:
            for e in self._entries.values():
                if e.on_device and e.key != keep:
                    e.place(e.obj, self.config.offload_device)
                    e.on_device = False
                    self.evictions += 1
        empty_cache()

    # -- loading -----------------------------------------------------------------------------

    def get(
        self,
        kind: str,
        ref: ModelRef,
        loader: Callable[[ModelRef, str], Any],
        place: Callable[[Any, str], None] | None = None,
    ) -> Any:
        """The object for ``(kind, ref)``, loading it on first use, placed on the device."""
        key = (kind, ref)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                try:
                    obj = loader(ref, self.device_type)
                except Exception as e:
                    raise ModelLoadError(_load_hint(ref, e)) from e
                self.loads += 1
                # Load on CPU, then place: the LRU decides what goes to the accelerator.
                entry = _Entry(key=key, obj=obj, place=place or _place_module, derived={})
                self._entries[key] = entry
            self._touch(entry)
            return entry.obj

    def pipeline(self, ref: ModelRef, task: str, builtin_safety: bool = False) -> Any:
        """A diffusers pipeline for ``task`` (``t2i``, ``img2img``, ``inpaint``,
        ``instruct-pix2pix``) over the base checkpoint ``ref``; pipelines of one base share
        its modules through ``from_pipe``. A safety checker shipped inside the checkpoint
        (SD 1.x, InstructPix2Pix) is loaded only with ``builtin_safety`` (then the base is a
        separate entry: the two loads differ)."""
        kind = "diffusers+checker" if builtin_safety else "diffusers"
        loader = _load_diffusers_with_checker if builtin_safety else _load_diffusers
        base = self.get(kind, ref, loader, _place_pipeline)
        entry = self._entries[(kind, ref)]
        with self._lock:
            if task not in entry.derived:
                entry.derived[task] = _derive(base, task, ref)
            return entry.derived[task]

    def stats(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "config": asdict(self.config),
            "entries": [_label(k) for k in self._entries],
            "on_device": [_label(k) for k in self.on_device()],
            "loads": self.loads,
            "evictions": self.evictions,
        }


# ---------------------------------------------------------------------------------------------
# Shared pools, found by plain data

_POOLS: dict[PoolConfig, ModelPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(config: PoolConfig | Mapping[str, Any] | None = None) -> ModelPool:
    """The process-wide pool for a configuration: every component naming the same settings
    shares it (and its models)."""
    cfg = PoolConfig.coerce(config)
    with _POOLS_LOCK:
        if cfg not in _POOLS:
            _POOLS[cfg] = ModelPool(cfg)
        return _POOLS[cfg]


def env_pool(env: Any) -> ModelPool | None:
    """The pool the env's real components load into (extractor, critic, evaluator, experts), or
    None for an env without one (the synthetic world)."""
    base = getattr(env, "unwrapped", env)
    extractor, critic, evaluator = (getattr(base, k, None) for k in ("extractor", "critic", "evaluator"))
    candidates = [
        getattr(getattr(extractor, "chat", None), "pool", None),
        getattr(getattr(critic, "scorer", None), "pool", None),
        getattr(getattr(getattr(evaluator, "critic", None), "scorer", None), "pool", None),
    ]
    candidates += [getattr(e, "pool", None) for e in getattr(base, "registry", []) or []]
    return next((p for p in candidates if isinstance(p, ModelPool)), None)


def env_chat_model(env: Any, model: Any) -> Any:
    """The env extractor's :class:`~poser_env.backends.chat.ChatModel` when it names the same
    model (same folder or hub id), so a second user of that model shares its one loaded copy."""
    chat = getattr(getattr(getattr(env, "unwrapped", env), "extractor", None), "chat", None)
    ref = getattr(chat, "ref", None)
    if ref is None:
        return None
    want = ModelRef.coerce(model)
    a, b = Path(ref.path).expanduser(), Path(want.path).expanduser()
    same = (
        a.resolve() == b.resolve()
        if a.exists() and b.exists()
        else ref.path.strip().rstrip("/") == want.path.strip().rstrip("/")
    )
    return chat if same else None


def clear_shared_pools() -> None:
    """Forget every shared pool (their models are freed when nothing else holds them)."""
    with _POOLS_LOCK:
        _POOLS.clear()
    empty_cache()


def empty_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# Loaders and placement


def _place_module(obj: Any, device: str) -> None:
    obj.to(device)


def _place_pipeline(pipe: Any, device: str) -> None:
    pipe.to(device)


def _load_diffusers(ref: ModelRef, device_type: str, keep_checker: bool = False) -> Any:
    from diffusers import DiffusionPipeline

    kw = ref.load_kwargs(device_type, "diffusers")
    # Community pipelines and custom components are code from the checkpoint: off by default.
    kw["trust_remote_code"] = ref.trust_remote_code
    if not keep_checker:
        # A checkpoint's own safety checker (SD 1.x, InstructPix2Pix) blacks out flagged images
        # and the flag is easy to lose; safety is the preset's [safety] hook, so leave it out.
        index = DiffusionPipeline.load_config(ref.location(), revision=ref.revision)
        if (index.get("safety_checker") or [None])[0] is not None:
            kw.update(safety_checker=None, requires_safety_checker=False)
    pipe = DiffusionPipeline.from_pretrained(ref.location(), **kw)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _load_diffusers_with_checker(ref: ModelRef, device_type: str) -> Any:
    return _load_diffusers(ref, device_type, keep_checker=True)


def latent_channels(pipe: Any) -> tuple[int | None, int]:
    """(input channels of the denoiser, latent channels of the VAE): 4 and 4 for a T2I UNet,
    8 for InstructPix2Pix, 9 for inpainting (latents, masked-image latents and the mask)."""
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    cin = getattr(getattr(denoiser, "config", None), "in_channels", None)
    vae = getattr(getattr(pipe, "vae", None), "config", None)
    return cin, int(getattr(vae, "latent_channels", 4) or 4)


def size_multiple(pipe: Any) -> int:
    """The side a pipeline's image must be a multiple of: the VAE's scale factor times the
    transformer's patch size (8 for SD/SDXL UNets, 16 for SD3 and PixArt)."""
    factor = int(getattr(pipe, "vae_scale_factor", 8) or 8)
    patch = getattr(getattr(getattr(pipe, "transformer", None), "config", None), "patch_size", None)
    return factor * (int(patch) if isinstance(patch, int) and patch > 0 else 1)


def _check_task(base: Any, task: str, ref: ModelRef) -> None:
    """Refuse a checkpoint used for a task its denoiser cannot do, in one line, before any step
    fails with a shape error deep inside the UNet."""
    cin, lat = latent_channels(base)
    if cin is None or cin == lat and task != "instruct-pix2pix":
        return
    kinds = {
        2 * lat + 1: ("an inpainting checkpoint", "inpaint"),
        2 * lat: ("an InstructPix2Pix checkpoint", "instruct-pix2pix"),
    }
    what, fits = kinds.get(cin, (f"a checkpoint whose denoiser takes {cin} input channels", None))
    if task == "inpaint" and cin == 2 * lat + 1 or task == "instruct-pix2pix" and cin == 2 * lat:
        return
    fix = f'use type = "{fits}" for it' if fits else f"use a {task} checkpoint"
    raise ModelLoadError(
        f"model {ref.path!r} is {what} ({type(base).__name__}, {cin} input channels), not usable as {task}: {fix}"
    )


def _derive(base: Any, task: str, ref: ModelRef) -> Any:
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, AutoPipelineForText2Image

    name = type(base).__name__
    if task != "instruct-pix2pix" or "InstructPix2Pix" in name:
        _check_task(base, task, ref)
    if task == "instruct-pix2pix":
        if "InstructPix2Pix" not in name:
            raise ModelLoadError(
                f"model {ref.path!r} loads as {name}, not an InstructPix2Pix pipeline; name an InstructPix2Pix checkpoint (e.g. timbrooks/instruct-pix2pix)"
            )
        return base
    auto = {
        "t2i": AutoPipelineForText2Image,
        "img2img": AutoPipelineForImage2Image,
        "inpaint": AutoPipelineForInpainting,
    }.get(task)
    if auto is None:
        raise ValueError(f"unknown pipeline task {task!r}; allowed: t2i, img2img, inpaint, instruct-pix2pix")
    try:
        pipe = auto.from_pipe(base)
    except Exception as e:
        raise ModelLoadError(f"model {ref.path!r} ({name}) has no {task} pipeline in diffusers: {e}") from e
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _load_hint(ref: ModelRef, e: Exception) -> str:
    """One line: the model, the fix when the error says what it is (first, so that a caller that
    shortens the message keeps it), then the loader's own error."""
    text = str(e)
    low = text.lower()
    variants = _local_variants(ref) if ref.variant is None else []
    fix = ""
    if "trust_remote_code" in text or "custom code" in text:
        fix = "it ships its own Python code; set trust_remote_code = true for this model in the preset only if you trust it"
    elif "torchvision" in low:
        fix = (
            "its processor needs torchvision: install the build that matches your torch, e.g. torch==2.13.0 with "
            "torchvision==0.28.0 from the same index (docs/real-models.md, 'Install')"
        )
    elif ("sentencepiece" in low or "protobuf" in low) and "install" in low:
        fix = "its tokenizer ships only a SentencePiece model: pip install sentencepiece protobuf (both in the 'real' extra)"
    elif "safetensors" in low and ref.use_safetensors:
        if variants:
            fix = f"its safetensors weights are a variant: set variant = {variants[0]!r} for it in the preset"
        elif ref.variant is None:
            fix = (
                "no plain .safetensors weights: if the repository ships variant files (*.fp16.safetensors), set "
                "variant = 'fp16' for it in the preset; only if it has no .safetensors at all, use_safetensors = false "
                "(loads pickles with weights_only=True)"
            )
        else:
            fix = f"no .safetensors weights of variant {ref.variant!r}: check the variant; as a last resort use_safetensors = false (pickles, weights_only=True)"
    elif not ref.is_local:
        fix = "not a local folder; a hub id needs network access or a cached copy (HF_HUB_OFFLINE=1 forbids downloads)"
    cause = " ".join(f"{type(e).__name__}: {text}".split())
    return f"cannot load model {ref.path!r} ({'fix: ' + fix if fix else 'no known fix'}): {cause}"


def _local_variants(ref: ModelRef) -> list[str]:
    """Variants (``fp16``, ...) of the safetensors files in a local folder, most common first."""
    if not ref.is_local:
        return []
    from collections import Counter

    from poser_env.backends.models import WEIGHT_FILE_PATTERN

    found = Counter()
    for f in Path(ref.location()).rglob("*.safetensors"):
        m = WEIGHT_FILE_PATTERN.match(f.name)
        if m and m.group("variant"):
            found[m.group("variant")] += 1
    return [v for v, _ in found.most_common()]


def _label(key: tuple) -> str:
    kind, ref = key
    return f"{kind}:{ref.path}"


def module_bytes(obj: Any, seen: set[int] | None = None) -> tuple[int, int]:
    """(parameter bytes, of which newly counted) over a pipeline's or model's modules:
    storage already in ``seen`` (data pointers) is not counted again. Used to measure sharing."""
    import torch

    seen = set() if seen is None else seen
    modules = (
        [obj]
        if isinstance(obj, torch.nn.Module)
        else [m for m in getattr(obj, "components", {}).values() if isinstance(m, torch.nn.Module)]
    )
    total = new = 0
    for m in modules:
        for p in m.parameters():
            b = p.numel() * p.element_size()
            total += b
            if p.data_ptr() not in seen:
                seen.add(p.data_ptr())
                new += b
    return total, new
