"""Shape outlines and the spatial-relation rule.

Each shape is a polygon in a unit frame (the circle is a many-sided polygon), scaled by the
object's size. Shapes are never rotated: a triangle points up, a hexagon has flat top and
bottom (so it is wider than tall, which is what tells it from a circle), a heart has its notch
on top.

The relation rule is GenEval's: compare the centres of the two boxes after removing a margin
of 0.1 x the sum of the boxes' sizes on each axis, then keep the directions that dominate.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from poser_env.world import vocab

#: GenEval's ``POSITION_THRESHOLD``.
POSITION_MARGIN = 0.1


def _regular(n: int, radius: float = 1.0, phase: float = 0.0) -> list[tuple[float, float]]:
    return [
        (radius * math.cos(phase + 2 * math.pi * k / n), radius * math.sin(phase + 2 * math.pi * k / n))
        for k in range(n)
    ]


def _star() -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        r = 1.0 if k % 2 == 0 else 0.42
        a = -math.pi / 2 + math.pi * k / 5
        pts.append((r * math.cos(a), r * math.sin(a)))
    return pts


def _heart() -> list[tuple[float, float]]:
    # The classic parametric heart, notch up (y grows downwards in image coordinates).
    pts = []
    for k in range(48):
        t = 2 * math.pi * k / 48
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        pts.append((x, y))
    return pts


def _normalise(pts: list[tuple[float, float]]) -> np.ndarray:
    """Centre a polygon on its box and scale it so the larger half-extent is 1."""
    a = np.asarray(pts, dtype=np.float64)
    lo, hi = a.min(axis=0), a.max(axis=0)
    a = a - (lo + hi) / 2
    return a / (np.abs(a).max())


@cache
def unit_polygon(shape: str) -> np.ndarray:
    """The shape's outline as an (N, 2) array in [-1, 1], centred on its box."""
    vocab.check_shape(shape)
    if shape == "circle":
        pts = _regular(64)
    elif shape == "square":
        pts = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    elif shape == "triangle":
        # Equilateral, pointing up: width 2, height sqrt(3).
        pts = [(0.0, -math.sqrt(3) / 2), (1.0, math.sqrt(3) / 2), (-1.0, math.sqrt(3) / 2)]
    elif shape == "star":
        pts = _star()
    elif shape == "hexagon":
        pts = _regular(6)  # flat top and bottom: width 2, height sqrt(3)
    else:  # heart
        pts = _heart()
    return _normalise(pts)


#: Per-shape scale so that shapes of one size have comparable areas (a square of the same
#: half-extent as a circle would look much bigger).
_SCALE = {"circle": 1.0, "square": 0.88, "triangle": 1.1, "star": 1.1, "hexagon": 1.0, "heart": 1.0}


@cache
def shape_half_extent(shape: str, size: str) -> tuple[float, float]:
    """Half width and half height of a shape's box, in canvas fractions."""
    poly = unit_polygon(shape)
    s = vocab.SIZES[vocab.check_size(size)] * _SCALE[shape]
    return (float(np.abs(poly[:, 0]).max() * s), float(np.abs(poly[:, 1]).max() * s))


def polygon_pixels(shape: str, size: str, x: float, y: float, canvas: int) -> list[tuple[float, float]]:
    """The outline in pixel coordinates, for drawing on a ``canvas`` x ``canvas`` image."""
    s = vocab.SIZES[size] * _SCALE[shape] * canvas
    poly = unit_polygon(shape) * s + np.array([x * canvas, y * canvas])
    return [(px, py) for px, py in poly.tolist()]  # Python floats, as float() of each gives


def relations_between(box_a: tuple[float, float, float, float], box_b: tuple[float, float, float, float]) -> set[str]:
    """GenEval's relative position of box A with respect to box B (``{"left of", "above"}``...)."""
    ca = np.array([(box_a[0] + box_a[2]) / 2, (box_a[1] + box_a[3]) / 2])
    cb = np.array([(box_b[0] + box_b[2]) / 2, (box_b[1] + box_b[3]) / 2])
    dim_a = np.array([box_a[2] - box_a[0], box_a[3] - box_a[1]])
    dim_b = np.array([box_b[2] - box_b[0], box_b[3] - box_b[1]])
    offset = ca - cb
    revised = np.maximum(np.abs(offset) - POSITION_MARGIN * (dim_a + dim_b), 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    out = set()
    if dx < -0.5:
        out.add("left of")
    if dx > 0.5:
        out.add("right of")
    if dy < -0.5:
        out.add("above")
    if dy > 0.5:
        out.add("below")
    return out


def boxes_overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float], gap: float = 0.0) -> bool:
    """Whether two boxes come closer than ``gap`` (canvas fractions) on both axes."""
    return not (a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1])
