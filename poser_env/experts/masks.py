"""Mask providers for inpainting experts: where in the image an edit may paint.

The hook: a mask provider is any callable ``(instruction, image) -> mask`` where ``image`` is
the current canvas (uint8 H x W x 3) and ``mask`` a uint8 H x W array, 255 where the expert
may paint and 0 where it must keep the pixels. Experts name their provider by plain data,
``mask = {"type": "words"}`` or ``{"type": "region", "box": [x0, y0, x1, y1]}`` (fractions of
the image), or ``{"entry_point": "module:Callable", "kwargs": {...}}`` where presets allow it.

Why these two: an expert never sees the checks or a target (the env's contract), so a mask
must come from the instruction or from the user. ``region`` is a user-supplied box (for
example the area of a product photo that may change); ``words`` reads the spatial words of
the instruction ("on the left", "at the top", "above", "in the corner"), the same cue a
person gives, and paints the whole image minus a border when there is none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

MaskProvider = Callable[[str, np.ndarray], np.ndarray]


class RegionMask:
    """A fixed box in fractions of the image ``[x0, y0, x1, y1]``."""

    def __init__(self, box: Sequence[float] = (0.25, 0.25, 0.75, 0.75)):
        box = [float(v) for v in box]
        if len(box) != 4 or not (0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1):
            raise ValueError(
                f"a mask region is [x0, y0, x1, y1] in fractions of the image with x0 < x1 and y0 < y1, got {box}"
            )
        self.box = box

    def __call__(self, instruction: str, image: np.ndarray) -> np.ndarray:
        return _box_mask(image.shape[0], image.shape[1], self.box)


#: Phrase -> box in fractions; the first match in the instruction wins, longest phrases first.
_REGIONS: list[tuple[str, tuple[float, float, float, float]]] = [
    (r"top[- ]left|upper[- ]left", (0.0, 0.0, 0.55, 0.55)),
    (r"top[- ]right|upper[- ]right", (0.45, 0.0, 1.0, 0.55)),
    (r"bottom[- ]left|lower[- ]left", (0.0, 0.45, 0.55, 1.0)),
    (r"bottom[- ]right|lower[- ]right", (0.45, 0.45, 1.0, 1.0)),
    (r"\bleft\b", (0.0, 0.0, 0.55, 1.0)),
    (r"\bright\b", (0.45, 0.0, 1.0, 1.0)),
    (r"\btop\b|\babove\b|\bsky\b|\bupper\b", (0.0, 0.0, 1.0, 0.55)),
    (r"\bbottom\b|\bbelow\b|\bunder\b|\bground\b|\blower\b", (0.0, 0.45, 1.0, 1.0)),
    (r"\bcent(?:er|re)\b|\bmiddle\b", (0.2, 0.2, 0.8, 0.8)),
]


class WordsMask:
    """A box chosen from the spatial words of the instruction; ``default`` when none appear."""

    def __init__(self, default: Sequence[float] = (0.1, 0.1, 0.9, 0.9)):
        self.default = RegionMask(default).box

    def box_for(self, instruction: str) -> list[float]:
        text = instruction.lower()
        for pattern, box in _REGIONS:
            if re.search(pattern, text):
                return list(box)
        return list(self.default)

    def __call__(self, instruction: str, image: np.ndarray) -> np.ndarray:
        return _box_mask(image.shape[0], image.shape[1], self.box_for(instruction))


MASK_PROVIDERS: dict[str, type] = {"region": RegionMask, "words": WordsMask}


def make_mask_provider(spec: Mapping[str, Any] | None, allow_entry_points: bool = False) -> MaskProvider:
    """A provider from plain data: ``{"type": "words"}`` (default), ``{"type": "region", "box": [...]}``,
    or ``{"entry_point": "module:Callable", "kwargs": {...}}`` when entry points are allowed."""
    spec = dict(spec or {"type": "words"})
    if "entry_point" in spec:
        if not allow_entry_points:
            raise ValueError(
                f"mask provider entry point {spec['entry_point']!r} refused: pass allow_entry_points=True to run code a preset names"
            )
        from poser_env.registry import load_entry_point

        factory = load_entry_point(spec["entry_point"])
        return factory(**dict(spec.get("kwargs") or {}))
    kind = spec.pop("type", "words")
    if kind not in MASK_PROVIDERS:
        raise ValueError(
            f"unknown mask provider {kind!r}; allowed: {', '.join(MASK_PROVIDERS)} (or an entry_point with allow_entry_points)"
        )
    return MASK_PROVIDERS[kind](**spec)


def _box_mask(h: int, w: int, box: Sequence[float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros((h, w), np.uint8)
    mask[
        int(round(y0 * h)) : max(int(round(y1 * h)), int(round(y0 * h)) + 1),
        int(round(x0 * w)) : max(int(round(x1 * w)), int(round(x0 * w)) + 1),
    ] = 255
    return mask
