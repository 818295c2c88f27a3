"""Place objects on a canvas: no overlaps, inside the borders, requested relations held firmly.

Used by the suite generator (to build source scenes and realisable targets), by the world
check (to draw scenes like the suites' ones) and by the synthetic experts (to draw what an
instruction asks). All randomness comes from the ``numpy.random.Generator`` passed in.

"Firmly" matters: a relation that holds by a hair under GenEval's rule could flip after the
detector's one-pixel errors, which would make the pixel critic and the ground truth disagree
for reasons that have nothing to do with the agent. So a requested relation must still hold
when either box is shifted by :data:`RELATION_SLACK` in any direction.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from poser_env.world.geometry import boxes_overlap, relations_between, shape_half_extent
from poser_env.world.scene import SceneObject

#: Minimum gap between two objects' boxes (canvas fractions): keeps blurred edges apart.
GAP = 0.035
#: Minimum distance from a box to the canvas border.
BORDER = 0.02
#: How far a box may move and a requested relation still hold.
RELATION_SLACK = 0.025


class LayoutError(RuntimeError):
    """No placement satisfying the constraints was found (too many or contradictory ones)."""


def _shifted(box: tuple[float, float, float, float], dx: float, dy: float) -> tuple[float, float, float, float]:
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)


def holds_firmly(a: tuple[float, float, float, float], rel: str, b: tuple[float, float, float, float]) -> bool:
    """``rel`` holds between boxes ``a`` and ``b`` even after either moves by the slack."""
    s = RELATION_SLACK
    for dx, dy in ((0, 0), (s, 0), (-s, 0), (0, s), (0, -s)):
        if rel not in relations_between(_shifted(a, dx, dy), b):
            return False
    return True


def fails_firmly(a: tuple[float, float, float, float], rel: str, b: tuple[float, float, float, float]) -> bool:
    """``rel`` does not hold between ``a`` and ``b``, even after either moves by the slack."""
    s = RELATION_SLACK
    for dx, dy in ((0, 0), (s, 0), (-s, 0), (0, s), (0, -s)):
        if rel in relations_between(_shifted(a, dx, dy), b):
            return False
    return True


def random_position(shape: str, size: str, rng: np.random.Generator) -> tuple[float, float]:
    hw, hh = shape_half_extent(shape, size)
    x = rng.uniform(hw + BORDER, 1 - hw - BORDER)
    y = rng.uniform(hh + BORDER, 1 - hh - BORDER)
    return float(x), float(y)


def fits(obj: SceneObject, others: Sequence[SceneObject]) -> bool:
    """``obj`` keeps the gap from every object in ``others``."""
    return not any(boxes_overlap(obj.bbox, o.bbox, GAP) for o in others)


def place(
    items: Sequence[tuple[str, str, str]],
    rng: np.random.Generator,
    relations: Sequence[tuple[int, str, int]] = (),
    fixed: Sequence[SceneObject] = (),
    tries: int = 300,
    restarts: int = 40,
) -> list[SceneObject]:
    """Place ``items`` (shape, colour, size) around the ``fixed`` objects.

    ``relations`` are ``(i, rel, j)`` with indices into ``list(fixed) + items``; each must hold
    firmly once both ends are placed. Returns the new objects only, in the order of ``items``.
    Raises :class:`LayoutError` when no layout is found.
    """
    n_fixed = len(fixed)
    # Big objects first: small ones fit into the gaps that are left.
    order = sorted(range(len(items)), key=lambda k: -shape_half_extent(items[k][0], items[k][2])[0])
    for _ in range(restarts):
        placed: dict[int, SceneObject] = dict(enumerate(fixed))
        ok = True
        for k in order:
            shape, color, size = items[k]
            idx = n_fixed + k
            for _ in range(tries):
                x, y = random_position(shape, size, rng)
                cand = SceneObject(shape, color, size, x, y)
                if not fits(cand, list(placed.values())):
                    continue
                if all(
                    holds_firmly((cand if i == idx else placed[i]).bbox, rel, (cand if j == idx else placed[j]).bbox)
                    for i, rel, j in relations
                    if idx in (i, j) and (i == idx or i in placed) and (j == idx or j in placed)
                ):
                    placed[idx] = cand
                    break
            else:
                ok = False
                break
        if ok:
            return [placed[n_fixed + k] for k in range(len(items))]
    raise LayoutError(
        f"could not place {len(items)} object(s) among {n_fixed} fixed one(s) with "
        f"{len(relations)} relation(s); the canvas is too crowded or the relations contradict"
    )
