"""The safety check hook: look at each generated image and reject it before the env sees it.

Off by default (``safety = {"type": "none"}``). A rejection raises :class:`SafetyRejection`
inside the expert call, which the env turns into a failed step with ``info["error"]``, like any
other expert failure: an episode never crashes on it, and the rejected image is never kept.

A check is any object with ``name`` and ``check(image) -> (ok, reason)`` (``image`` uint8
H x W x 3). Built-in, from plain data:

- ``{"type": "diffusers", "model": "CompVis/stable-diffusion-safety-checker"}``: diffusers'
  ``StableDiffusionSafetyChecker`` (the checker SD 1.x ships with) and the CLIP image processor
  saved beside it.
- ``{"type": "clip", "model": ..., "unsafe": [...], "safe": [...], "threshold": 0.5}``: zero-shot
  CLIP: the probability mass of the ``unsafe`` descriptions against the ``safe`` ones; any
  CLIP checkpoint works, and the labels are yours to write.
- ``{"entry_point": "module:Class", "kwargs": {...}}``: your own classifier, only when the preset
  is loaded with ``allow_entry_points=True``.
- ``{"type": "builtin"}``: no extra model; the diffusers experts keep the safety checker their
  checkpoint ships (SD 1.x, InstructPix2Pix), which is otherwise left out at load, and a flagged
  image is a rejection (see :mod:`poser_env.experts.diffusion`).

A check whose classifier returns NaN (a float16 overflow) rejects: an unknown answer is never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from poser_env.backends.models import ModelRef
from poser_env.backends.pool import ModelPool, shared_pool


class SafetyRejection(RuntimeError):
    """A safety check rejected a generated image."""


class SafetyCheck(Protocol):
    name: str

    def check(self, image: np.ndarray) -> tuple[bool, str]: ...


DEFAULT_UNSAFE = ("an explicit nude photo", "graphic violence and gore", "a sexual image")
DEFAULT_SAFE = ("an ordinary safe image", "a drawing", "a photo of everyday objects")


class ClipSafetyCheck:
    """Zero-shot CLIP classifier: reject when P(any unsafe description) exceeds ``threshold``."""

    name = "clip-safety"

    def __init__(
        self,
        model: Any,
        threshold: float = 0.5,
        unsafe: Sequence[str] = DEFAULT_UNSAFE,
        safe: Sequence[str] = DEFAULT_SAFE,
        pool: ModelPool | Mapping[str, Any] | None = None,
    ):
        from poser_env.critics.clip import ClipScorer

        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"safety threshold must lie in [0, 1], got {threshold!r}")
        if not unsafe or not safe:
            raise ValueError("a CLIP safety check needs at least one 'unsafe' and one 'safe' description")
        self.threshold = float(threshold)
        self.unsafe, self.safe = list(unsafe), list(safe)
        self.scorer = ClipScorer(model, pool=pool)

    def p_unsafe(self, image: np.ndarray) -> float:
        """P(any unsafe description); NaN when the model's scores are not finite."""
        logits = self.scorer.logits([image], self.unsafe + self.safe, finite_only=False)[0]
        if not np.isfinite(logits).all():
            return float("nan")
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return float(p[: len(self.unsafe)].sum())

    def check(self, image: np.ndarray) -> tuple[bool, str]:
        p = self.p_unsafe(image)
        if not np.isfinite(p):
            return False, "the classifier's scores are not finite (NaN: a float16 overflow is the usual cause)"
        return p <= self.threshold, f"P(unsafe) = {p:.2f} > {self.threshold:.2f}"


class DiffusersSafetyCheck:
    """diffusers' ``StableDiffusionSafetyChecker`` with the CLIP image processor saved beside it."""

    name = "diffusers-safety"

    def __init__(
        self, model: Any = "CompVis/stable-diffusion-safety-checker", pool: ModelPool | Mapping[str, Any] | None = None
    ):
        self.ref = ModelRef.coerce(model)
        self.pool = pool if isinstance(pool, ModelPool) else shared_pool(pool)

    def _load(self):
        return self.pool.get("sd-safety", self.ref, _load_sd_safety, _place_first)

    def check(self, image: np.ndarray) -> tuple[bool, str]:
        import torch

        checker, processor = self._load()
        param = next(checker.parameters())
        clip_input = processor(images=[image], return_tensors="pt").pixel_values.to(param.device, param.dtype)
        finite: list[bool] = []  # NaN embeddings compare False with every threshold: "not flagged"
        hook = checker.visual_projection.register_forward_hook(
            lambda m, a, out: finite.append(bool(torch.isfinite(out).all()))
        )
        try:
            with torch.no_grad():
                _, flagged = checker(images=image[None].astype(np.float32) / 255.0, clip_input=clip_input)
        finally:
            hook.remove()
        if not all(finite):
            return (
                False,
                "StableDiffusionSafetyChecker's embeddings are not finite (NaN: a float16 overflow is the usual cause)",
            )
        return (not bool(flagged[0])), "flagged by StableDiffusionSafetyChecker"


def _load_sd_safety(ref: ModelRef, device_type: str):
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import AutoImageProcessor

    kw = ref.load_kwargs(device_type, "transformers")  # a transformers model class (CLIP) under the hood
    checker = StableDiffusionSafetyChecker.from_pretrained(ref.location(), **kw).eval()
    processor = AutoImageProcessor.from_pretrained(ref.location(), revision=ref.revision)
    return checker, processor


def _place_first(obj: Any, device: str) -> None:
    obj[0].to(device)


def make_safety_check(
    spec: Mapping[str, Any] | None, pool: Any = None, allow_entry_points: bool = False
) -> SafetyCheck | None:
    """A safety check from plain data, or None for ``None`` / ``{"type": "none"}``."""
    if not spec:
        return None
    spec = dict(spec)
    if "entry_point" in spec:
        if not allow_entry_points:
            raise ValueError(
                f"safety check entry point {spec['entry_point']!r} refused: pass allow_entry_points=True to run code a preset names"
            )
        from poser_env.registry import load_entry_point

        return load_entry_point(spec["entry_point"])(**dict(spec.get("kwargs") or {}))
    kind = spec.pop("type", "none")
    if kind in ("none", "builtin"):  # builtin: the diffusers expert keeps the checkpoint's own checker
        return None
    if kind == "clip":
        return ClipSafetyCheck(pool=pool, **spec)
    if kind == "diffusers":
        return DiffusersSafetyCheck(pool=pool, **spec)
    raise ValueError(
        f"unknown safety check type {kind!r}; allowed: none, builtin, clip, diffusers (or an entry_point with allow_entry_points)"
    )
