"""The expert contract, and the guard that turns a misbehaving expert into a failed step.

An expert is anything with ``name``, ``modality`` ("t2i" draws from scratch, "i2i" edits the
canvas it is given), ``cost`` (relative compute units) and a call
``(instruction, canvas, rng, reflection="") -> Canvas``. A T2I expert gets the cumulative
description (all commands accepted so far plus the current one); an I2I expert gets the current
command. On a retry ``reflection`` holds the critic's feedback on the previous attempt (empty on a
first attempt), as its own argument: the instruction stays the instruction. An expert never sees
the checks or the target.

An expert whose call takes no ``reflection`` (written before it existed) still works, for one
release: :func:`call_expert` appends the reflection to its instruction after
:data:`FEEDBACK_MARKER`, as the env used to, and the env warns once (``DeprecationWarning``) when
it is built with such an expert.

``modality`` was called ``kind`` before, a word that also names a command's kind ("add",
"recolor", ...) and a check spec's kind: ``kind`` stays a deprecated alias until the next
release (the experts here answer it with a ``DeprecationWarning``; an expert that declares only
``kind`` still registers, with a warning; a registry spec's ``"kind": "t2i"`` is accepted).
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Protocol, runtime_checkable

import numpy as np

from poser_env.deprecation import ImagePoserDeprecationWarning
from poser_env.types import Canvas

#: Separated an instruction from the critic's reflection when the reflection travelled inside the
#: instruction; used now only for experts whose call takes no ``reflection`` (deprecated).
FEEDBACK_MARKER = "\nFeedback on the previous attempt: "


#: An expert's modalities: "t2i" draws from scratch (text to image), "i2i" edits the canvas it is
#: given (image to image).
MODALITIES = ("t2i", "i2i")


@runtime_checkable
class Expert(Protocol):
    name: str
    modality: str
    """``t2i`` or ``i2i`` (see :data:`MODALITIES`; formerly ``kind``)."""
    cost: float

    def __call__(
        self, instruction: str, canvas: Canvas | None, rng: np.random.Generator, reflection: str = ""
    ) -> Canvas: ...


class KindAlias:
    """Gives an expert class ``kind``, the deprecated name of its ``modality``."""

    modality: str

    @property
    def kind(self) -> str:
        warnings.warn(
            "an expert's `kind` is deprecated (it also names command and check kinds): read `modality` (t2i or i2i)",
            ImagePoserDeprecationWarning,
            stacklevel=2,
        )
        return self.modality


def expert_modality(expert: Any) -> Any:
    """``expert.modality``; for an expert that declares only the deprecated ``kind``, that, with a
    ``DeprecationWarning``; None when it declares neither."""
    if hasattr(expert, "modality"):
        return expert.modality
    if hasattr(expert, "kind"):
        warnings.warn(
            f"expert {getattr(expert, 'name', expert)!r} declares `kind`, the deprecated name of `modality` "
            "(t2i or i2i): rename it",
            ImagePoserDeprecationWarning,
            stacklevel=3,
        )
        return expert.kind
    return None


def modality_kwargs(kwargs: dict[str, Any], where: str) -> dict[str, Any]:
    """``kwargs`` with a registry spec's ``kind`` (still accepted) renamed to ``modality``."""
    if "kind" not in kwargs:
        return kwargs
    out = dict(kwargs)
    kind = out.pop("kind")
    if out.setdefault("modality", kind) != kind:
        raise ValueError(f"{where}: kind={kind!r} and modality={out['modality']!r} disagree; give modality only")
    warnings.warn(
        f"{where}: `kind` is deprecated, give `modality` (t2i or i2i); the old name goes in the next release",
        ImagePoserDeprecationWarning,
        stacklevel=3,
    )
    return out


def takes_reflection(expert: Any) -> bool:
    """Whether ``expert``'s call accepts ``reflection=`` (a parameter of that name, or ``**kwargs``)."""
    try:
        params = inspect.signature(expert).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: call it the old way
        return False
    return any(
        p.kind is p.VAR_KEYWORD or (p.name == "reflection" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        for p in params
    )


def call_expert(
    expert: Any,
    instruction: str,
    canvas: Canvas | None,
    rng: np.random.Generator,
    reflection: str = "",
    reflects: bool | None = None,
) -> Any:
    """Call ``expert`` with the reflection as its own argument, or, for an expert whose call takes
    none (``reflects`` False; None asks :func:`takes_reflection`), appended to the instruction
    after :data:`FEEDBACK_MARKER` (deprecated)."""
    if reflects is None:
        reflects = takes_reflection(expert)
    if reflects:
        return expert(instruction, canvas, rng, reflection=reflection)
    return expert(with_feedback(instruction, reflection), canvas, rng)


class ExpertOutputError(RuntimeError):
    """An expert returned something that is not a usable image."""


def split_feedback(instruction: str) -> tuple[str, str]:
    """``(instruction, reflection)`` of an instruction built by :func:`with_feedback` (for experts
    that still read the deprecated form); the reflection is empty on a first attempt."""
    head, _, tail = instruction.partition(FEEDBACK_MARKER)
    return head, tail


def with_feedback(instruction: str, feedback: str) -> str:
    """The deprecated form: ``instruction``, then :data:`FEEDBACK_MARKER` and ``feedback`` if any."""
    return f"{instruction}{FEEDBACK_MARKER}{feedback}" if feedback else instruction


def validate_output(out: object, size: tuple[int, int], expert: str) -> Canvas:
    """Check an expert's output: a Canvas holding a uint8 H x W x 3 image of the env's size.

    Float images in [0, 1] are accepted and converted (diffusers returns those); anything else
    raises :class:`ExpertOutputError` naming the expert and the problem.
    """
    if not isinstance(out, Canvas):
        raise ExpertOutputError(f"expert {expert!r} returned {type(out).__name__}, not a Canvas")
    img = out.image
    if hasattr(img, "convert") and hasattr(img, "size"):  # a PIL image
        img = np.asarray(img.convert("RGB"))
    if not isinstance(img, np.ndarray):
        raise ExpertOutputError(f"expert {expert!r} returned an image of type {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ExpertOutputError(f"expert {expert!r} returned an image of shape {img.shape}; expected H x W x 3")
    if img.shape[:2] != tuple(size):
        raise ExpertOutputError(
            f"expert {expert!r} returned a {img.shape[1]}x{img.shape[0]} image; the env's canvas is {size[1]}x{size[0]}"
        )
    if img.dtype != np.uint8:
        if not np.issubdtype(img.dtype, np.floating):
            raise ExpertOutputError(f"expert {expert!r} returned dtype {img.dtype}; expected uint8 or float in [0, 1]")
        if not np.isfinite(img).all():
            raise ExpertOutputError(f"expert {expert!r} returned an image with NaN or infinite values")
        if img.min() < 0 or img.max() > 1:
            raise ExpertOutputError(f"expert {expert!r} returned float values outside [0, 1]")
        img = np.round(img * 255).astype(np.uint8)
    return Canvas(image=np.ascontiguousarray(img), scene=out.scene)
