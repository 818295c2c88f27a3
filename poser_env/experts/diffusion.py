"""Diffusers experts: any T2I, img2img, InstructPix2Pix or inpainting pipeline as an env expert.

One class, :class:`DiffusersExpert`, with a ``task``: ``t2i`` (``AutoPipelineForText2Image``:
SD 1.x/2.x, SDXL, SD3, FLUX, PixArt, ... whatever diffusers loads), ``img2img``
(``AutoPipelineForImage2Image``), ``instruct-pix2pix`` and ``inpaint``
(``AutoPipelineForInpainting`` with a mask provider, see :mod:`poser_env.experts.masks`). Its settings are plain
data (:class:`DiffusionSettings`) in the registry entry. Models come from the shared
:class:`~poser_env.backends.pool.ModelPool`, so a T2I and an img2img expert over the same base
share one copy of its weights.

Determinism: the seed of each call is drawn from the ``rng`` the env passes (its
``np_random``) and given to a CPU ``torch.Generator``, so a seeded episode draws the same
latents on any device (the GPU kernels themselves may still differ in the last bits; the env
is registered ``nondeterministic=True``).

Failures become failed steps, never crashes: a CUDA out-of-memory error offloads every other
model and retries once, then raises a clear error; NaN or infinite pixels (a float16 VAE
overflow, typically) raise :class:`~poser_env.experts.base.ExpertOutputError`; a safety
rejection raises :class:`~poser_env.experts.safety.SafetyRejection`.

Safety checkers shipped inside a checkpoint (SD 1.x, InstructPix2Pix) are not loaded: safety is
what the preset's ``[safety]`` says (off by default, or a check on every expert's output).
``safety = {type = "builtin"}`` keeps the checkpoint's own checker instead; whichever checker
ran, an image it flags (``nsfw_content_detected``, which diffusers returns as an all-black
image) is a :class:`SafetyRejection`, never a black image scored as a result.

Checked when the pipeline loads, in one line each: the task against the checkpoint (an
inpainting UNet with 9 input channels is not a T2I model) and ``resolution`` against the
model (a multiple of the VAE factor times the transformer's patch size: 16 for SD3 and PixArt).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np

from poser_env.backends.models import ModelRef
from poser_env.backends.pool import ModelPool, empty_cache, shared_pool
from poser_env.deprecation import ImagePoserDeprecationWarning
from poser_env.experts.base import ExpertOutputError, KindAlias
from poser_env.experts.masks import make_mask_provider
from poser_env.experts.safety import SafetyRejection, make_safety_check
from poser_env.types import Canvas

log = logging.getLogger(__name__)

TASKS = ("t2i", "img2img", "instruct-pix2pix", "inpaint")


@dataclass(frozen=True)
class DiffusionSettings:
    """How an expert calls its pipeline (plain data in the registry entry).

    The fields carry diffusers' own names, so a pipeline's documentation reads directly. Older
    names (``steps``, ``guidance``, ``image_guidance``, ``resolution``) are still accepted by
    :meth:`from_settings`, with a ``DeprecationWarning``, until the next release."""

    num_inference_steps: int = 25
    """Denoising steps. Distilled models (turbo, schnell, LCM) want 1 to 4."""
    guidance_scale: float = 7.5
    """Classifier-free guidance scale; 0 for guidance-distilled models."""
    strength: float = 0.6
    """img2img and inpainting: how much of the image is re-noised (0 keeps it, 1 redraws it)."""
    image_guidance_scale: float = 1.5
    """InstructPix2Pix: how closely to follow the input image."""
    height: int | None = None
    """Height of the generated image in pixels (a multiple of 8); None = the env's canvas. The
    result is resized to the canvas, so a 1024-pixel model can serve a 512-pixel env."""
    width: int | None = None
    """Width; the env's canvas is square, so ``width`` must equal ``height`` (either may be
    given alone)."""
    negative_prompt: str = ""
    """Passed only when non-empty (some pipelines, e.g. FLUX, take none)."""
    use_feedback: bool = False
    """Append the critic's reflection to the prompt on a retry. Off by default: a diffusion
    model's text encoder reads "Not yet right. Is there ...: no" as words to draw, not as advice;
    a retry still gets a fresh seed."""

    #: Deprecated setting names and the diffusers names that replace them.
    RENAMED: ClassVar[dict[str, str]] = {
        "steps": "num_inference_steps",
        "guidance": "guidance_scale",
        "image_guidance": "image_guidance_scale",
        "resolution": "height",
    }

    def __post_init__(self) -> None:
        n = self.num_inference_steps
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"num_inference_steps must be a positive int, got {n!r}")
        if not 0.0 < float(self.strength) <= 1.0:
            raise ValueError(f"strength must lie in (0, 1], got {self.strength!r}")
        for name in ("guidance_scale", "image_guidance_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("height", "width"):
            side = getattr(self, name)
            if side is not None and (isinstance(side, bool) or not isinstance(side, int) or side < 8 or side % 8):
                raise ValueError(f"{name} must be a multiple of 8 (or None for the canvas size), got {side!r}")
        if self.height is not None and self.width is not None and self.height != self.width:
            raise ValueError(
                f"height {self.height} and width {self.width} differ; the env's canvas is square: give one side"
            )

    @property
    def side(self) -> int | None:
        """The generated image's side in pixels (``height`` or ``width``), None for the canvas's."""
        return self.height if self.height is not None else self.width

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], where: str) -> DiffusionSettings:
        """Settings from a registry entry or preset table, accepting the deprecated names
        (:attr:`RENAMED`) with a ``DeprecationWarning``. Raises ``ValueError`` naming an unknown
        key, or a key given under both its old and its new name."""
        known = {f.name for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in settings.items():
            new = cls.RENAMED.get(key)
            if new is not None:
                warnings.warn(
                    f"{where}: setting {key!r} is deprecated, use diffusers' name {new!r} (renamed in issue 11; "
                    "the old name goes in the next release)",
                    ImagePoserDeprecationWarning,
                    stacklevel=3,
                )
                if new in settings:
                    raise ValueError(f"{where}: {key!r} and {new!r} are the same setting; give {new!r} only")
                key = new
            if key not in known:
                allowed = ", ".join(sorted(known))
                raise ValueError(f"{where}: unknown setting(s) [{key!r}]; allowed: {allowed}")
            out[key] = value
        return cls(**out)


class DiffusersExpert(KindAlias):
    """An env expert backed by a diffusers pipeline (see the module docstring)."""

    def __init__(
        self,
        name: str,
        model: Any,
        task: str = "t2i",
        cost: float = 1.0,
        description: str = "",
        pool: ModelPool | Mapping[str, Any] | None = None,
        mask: Mapping[str, Any] | None = None,
        safety: Mapping[str, Any] | None = None,
        allow_entry_points: bool = False,
        **settings: Any,
    ):
        if task not in TASKS:
            raise ValueError(f"expert {name!r}: unknown task {task!r}; allowed: {', '.join(TASKS)}")
        self.name = name
        self.task = task
        self.modality = "t2i" if task == "t2i" else "i2i"
        self.cost = float(cost)
        self.description = description or f"{task} with {ModelRef.coerce(model).path}"
        self.model = ModelRef.coerce(model)
        self.settings = DiffusionSettings.from_settings(settings, f"expert {name!r}")
        if task in ("img2img", "inpaint") and self.settings.num_inference_steps * self.settings.strength < 1:
            raise ValueError(
                f"expert {name!r}: num_inference_steps x strength = {self.settings.num_inference_steps * self.settings.strength:g} < 1, so no denoising step would run; raise num_inference_steps or strength"
            )
        self.pool = pool if isinstance(pool, ModelPool) else shared_pool(pool)
        self.mask_provider = make_mask_provider(mask, allow_entry_points) if task == "inpaint" else None
        self.builtin_safety = isinstance(safety, Mapping) and safety.get("type") == "builtin"
        self.safety = (
            None
            if self.builtin_safety
            else make_safety_check(safety, pool=self.pool, allow_entry_points=allow_entry_points)
        )
        self._multiple: int | None = None

    def __repr__(self) -> str:
        return f"DiffusersExpert({self.name!r}, task={self.task!r}, model={self.model.path!r})"

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "model": self.model.to_dict(),
            "cost": self.cost,
            **asdict(self.settings),
        }

    @property
    def pool_key(self) -> tuple:
        return ("diffusers+checker" if self.builtin_safety else "diffusers", self.model)

    def pipeline(self) -> Any:
        """The pipeline, loaded through the pool (and placed on its device); the first load
        checks ``resolution`` against the model."""
        from poser_env.backends.models import ModelLoadError
        from poser_env.backends.pool import size_multiple

        pipe = self.pool.pipeline(self.model, self.task, builtin_safety=self.builtin_safety)
        if self._multiple is None:
            multiple = size_multiple(pipe)
            res = self.settings.side
            if res is not None and res % multiple:
                raise ModelLoadError(
                    f"expert {self.name!r}: resolution {res} does not suit {self.model.path!r} ({type(pipe).__name__}): "
                    f"it needs a multiple of {multiple}; use {max(multiple, res // multiple * multiple)}"
                )
            self._multiple = multiple
        return pipe

    # ------------------------------------------------------------------------------------

    def _prepare(
        self, instruction: str, canvas: Canvas | None, rng: np.random.Generator, reflection: str = ""
    ) -> tuple[str, str, tuple[int, int], int]:
        """(prompt, command text, canvas size, seed) of one call; the seed is drawn from ``rng``."""
        text = instruction
        prompt = f"{text} {reflection}" if reflection and self.settings.use_feedback else text
        size = tuple(canvas.image.shape[:2]) if canvas is not None else (self.settings.side or 512,) * 2
        if self.modality == "i2i" and canvas is None:
            raise ExpertOutputError(f"expert {self.name!r} edits an image but was given none")
        return prompt, text, (int(size[0]), int(size[1])), int(rng.integers(0, 2**63 - 1))

    def __call__(
        self, instruction: str, canvas: Canvas | None, rng: np.random.Generator, reflection: str = ""
    ) -> Canvas:
        import torch

        prompt, text, size, seed = self._prepare(instruction, canvas, rng, reflection)
        try:
            out = self._run([prompt], [text], [canvas], size, [seed])[0]
        except torch.OutOfMemoryError:
            log.warning(
                "expert %s: out of accelerator memory; offloading the other models and retrying once", self.name
            )
            self.pool.offload_all(keep=self.pool_key)
            try:
                out = self._run([prompt], [text], [canvas], size, [seed])[0]
            except torch.OutOfMemoryError as e:
                empty_cache()
                raise ExpertOutputError(
                    f"expert {self.name!r} ran out of accelerator memory even with every other model offloaded "
                    f"({e}); lower its resolution, use dtype = 'float16', or run fewer models at once (pool max_on_device)"
                ) from None
        return self._finish(out, size, canvas, text)

    def call_batch(
        self,
        instructions: list[str],
        canvases: list[Canvas | None],
        rngs: list[np.random.Generator],
        reflections: list[str] | None = None,
    ) -> list[Any]:
        """Several calls in one pipeline call per canvas size (served experts batch requests so).

        Each call draws its seed from its own ``rng`` and gets its own ``torch.Generator``, so it
        starts from the latents it would get alone; batched kernels may still round the last
        float bits differently (docs/scaling.md). Returns a Canvas or the exception per call: a
        bad call fails alone. A failure of the pipeline call itself is raised (the server then
        runs the calls one by one, with the out-of-memory retry)."""
        results: list[Any] = [None] * len(instructions)
        groups: dict[tuple[int, int], list[tuple[int, str, str, int]]] = {}
        reflections = reflections if reflections is not None else [""] * len(instructions)
        for i, (instruction, canvas, rng, reflection) in enumerate(zip(instructions, canvases, rngs, reflections)):
            try:
                prompt, text, size, seed = self._prepare(instruction, canvas, rng, reflection)
            except Exception as e:
                results[i] = e
                continue
            groups.setdefault(size, []).append((i, prompt, text, seed))
        for size, calls in groups.items():
            outs = self._run(
                [c[1] for c in calls],
                [c[2] for c in calls],
                [canvases[c[0]] for c in calls],
                size,
                [c[3] for c in calls],
                raise_flagged=False,
            )
            for (i, _, text, _), out in zip(calls, outs):
                try:
                    if isinstance(out, BaseException):
                        raise out
                    results[i] = self._finish(out, size, canvases[i], text)
                except Exception as e:
                    results[i] = e
        return results

    def _finish(self, out: np.ndarray, size: tuple[int, int], canvas: Canvas | None, text: str) -> Canvas:
        image = self._to_canvas_image(out, size, canvas, text)
        if self.safety is not None:
            ok, reason = self.safety.check(image)
            if not ok:
                raise SafetyRejection(
                    f"expert {self.name!r}: the {self.safety.name} check rejected the image ({reason})"
                )
        return Canvas(image=image)

    def _run(
        self,
        prompts: list[str],
        texts: list[str],
        canvases: list[Canvas | None],
        size: tuple[int, int],
        seeds: list[int],
        raise_flagged: bool = True,
    ) -> list[Any]:
        """One pipeline call for ``len(prompts)`` images (scalar arguments for one, as diffusers' own examples)."""
        import torch
        from PIL import Image

        pipe = self.pipeline()
        s = self.settings
        res = s.side or _round_down(size[0], self._multiple or 8)
        one = len(prompts) == 1
        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        kw: dict[str, Any] = {
            "prompt": prompts[0] if one else prompts,
            "num_inference_steps": s.num_inference_steps,
            "guidance_scale": s.guidance_scale,
            "generator": generators[0] if one else generators,
            "output_type": "np",
        }
        if s.negative_prompt:
            kw["negative_prompt"] = s.negative_prompt if one else [s.negative_prompt] * len(prompts)
        if self.task == "t2i":
            kw.update(height=res, width=res)
        else:
            sources = [
                Image.fromarray(np.asarray(c.image, dtype=np.uint8)).convert("RGB").resize((res, res), Image.LANCZOS)
                for c in canvases
                if c is not None
            ]
            kw["image"] = sources[0] if one else sources
            if self.task == "img2img":
                kw["strength"] = s.strength
            elif self.task == "instruct-pix2pix":
                kw["image_guidance_scale"] = s.image_guidance_scale
            else:
                masks = [
                    Image.fromarray(self.mask_provider(t, np.asarray(c.image))).resize((res, res), Image.NEAREST)
                    for t, c in zip(texts, canvases)
                    if c is not None
                ]
                kw.update(mask_image=masks[0] if one else masks, strength=s.strength, height=res, width=res)
        with torch.inference_mode():
            result = pipe(**kw)
        flagged = getattr(result, "nsfw_content_detected", None) or [False] * len(prompts)
        outs: list[Any] = []
        for image, flag in zip(result.images, flagged):
            if flag:
                # diffusers has replaced the image by black pixels: a rejection, not a result to score.
                rejection = SafetyRejection(
                    f"expert {self.name!r}: the checkpoint's safety checker flagged the image "
                    f"(nsfw_content_detected; diffusers returned it black)"
                )
                if raise_flagged:
                    raise rejection
                outs.append(rejection)
            else:
                outs.append(np.asarray(image))
        return outs

    def _to_canvas_image(self, out: np.ndarray, size: tuple[int, int], canvas: Canvas | None, text: str) -> np.ndarray:
        from PIL import Image

        if out.ndim != 3 or out.shape[2] != 3:
            raise ExpertOutputError(
                f"expert {self.name!r}: the pipeline returned an array of shape {out.shape}; expected H x W x 3"
            )
        if not np.isfinite(out).all():
            raise ExpertOutputError(
                f"expert {self.name!r} returned an image with NaN or infinite values (a float16 VAE overflow is the usual cause: "
                f"set dtype = 'float32' or 'bfloat16' for this model, or use a VAE fixed for float16)"
            )
        img = np.round(np.clip(out, 0.0, 1.0) * 255).astype(np.uint8)
        if img.shape[:2] != size:
            img = np.asarray(Image.fromarray(img).resize((size[1], size[0]), Image.LANCZOS))
        if self.task == "inpaint":
            # Outside the mask the canvas is kept exactly: VAE round trips blur what should not change.
            keep = self.mask_provider(text, np.asarray(canvas.image)) == 0
            img = np.where(keep[..., None], np.asarray(canvas.image, dtype=np.uint8), img)
        return np.ascontiguousarray(img)


def _round_down(n: int, multiple: int) -> int:
    return max(multiple, (int(n) // multiple) * multiple)


__all__ = ["DiffusersExpert", "DiffusionSettings", "SafetyRejection", "TASKS"]
