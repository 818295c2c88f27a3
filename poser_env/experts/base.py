"""The expert contract, and the guard that turns a misbehaving expert into a failed step.

An expert is anything with ``name``, ``kind`` ("t2i" draws from scratch, "i2i" edits the
canvas it is given), ``cost`` (relative compute units) and a call
``(instruction, canvas, rng) -> Canvas``. A T2I expert gets the cumulative description
(all commands accepted so far plus the current one); an I2I expert gets the current command.
Either may get a reflection appended after :data:`FEEDBACK_MARKER` on a retry. An expert
never sees the checks or the target.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from poser_env.types import Canvas

#: Separates an instruction from the critic's reflection on a retry.
FEEDBACK_MARKER = "\nFeedback on the previous attempt: "


@runtime_checkable
class Expert(Protocol):
    name: str
    kind: str
    cost: float

    def __call__(self, instruction: str, canvas: Canvas | None, rng: np.random.Generator) -> Canvas: ...


class ExpertOutputError(RuntimeError):
    """An expert returned something that is not a usable image."""


def split_feedback(instruction: str) -> tuple[str, str]:
    """``(instruction, reflection)``: the reflection is empty on a first attempt."""
    head, _, tail = instruction.partition(FEEDBACK_MARKER)
    return head, tail


def with_feedback(instruction: str, feedback: str) -> str:
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
        raise ExpertOutputError(f"expert {expert!r} returned a {img.shape[1]}x{img.shape[0]} image; the env's canvas is {size[1]}x{size[0]}")
    if img.dtype != np.uint8:
        if not np.issubdtype(img.dtype, np.floating):
            raise ExpertOutputError(f"expert {expert!r} returned dtype {img.dtype}; expected uint8 or float in [0, 1]")
        if not np.isfinite(img).all():
            raise ExpertOutputError(f"expert {expert!r} returned an image with NaN or infinite values")
        if img.min() < 0 or img.max() > 1:
            raise ExpertOutputError(f"expert {expert!r} returned float values outside [0, 1]")
        img = np.round(img * 255).astype(np.uint8)
    return Canvas(image=np.ascontiguousarray(img), scene=out.scene)
