"""Place objects on a canvas: no overlaps, inside the borders, requested relations held firmly.

Used by the suite generator (to build source scenes and realisable targets), by the world
check (to draw scenes like the suites' ones) and by the synthetic experts (to draw what an
instruction asks). All randomness comes from the ``numpy.random.Generator`` passed in.

"Firmly" matters: a relation that holds by a hair under GenEval's rule could flip after the
detector's one-pixel errors, which would make the pixel critic and the ground truth disagree
for reasons that have nothing to do with the agent. So a requested relation must still hold
when one box is shifted by :data:`RELATION_SLACK` in any direction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from poser_env.world.geometry import POSITION_MARGIN, boxes_overlap, shape_half_extent
from poser_env.world.scene import SceneObject
from poser_env.world.vocab import INVERSE_RELATION

#: Minimum gap between two objects' boxes (canvas fractions): keeps blurred edges apart.
GAP = 0.035
#: Minimum distance from a box to the canvas border.
BORDER = 0.02
#: How far a box may move and a requested relation still hold.
RELATION_SLACK = 0.025


class LayoutError(RuntimeError):
    """No placement satisfying the constraints was found (too many or contradictory ones)."""


_SHIFTS = np.array([(0.0, 0.0), (1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)])


def _relation_mask(a: np.ndarray, rel: str, b: np.ndarray) -> np.ndarray:
    """GenEval's rule, vectorised: does ``rel`` hold for each row of boxes ``a`` (N, 4) against ``b``?"""
    ca = np.stack([(a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2], axis=1)
    cb = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    dims = np.stack([a[:, 2] - a[:, 0] + b[:, 2] - b[:, 0], a[:, 3] - a[:, 1] + b[:, 3] - b[:, 1]], axis=1)
    offset = ca - cb
    revised = np.maximum(np.abs(offset) - POSITION_MARGIN * dims, 0) * np.sign(offset)
    norm = np.linalg.norm(offset, axis=1)
    some = (np.abs(revised) >= 1e-3).any(axis=1) & (norm > 0)
    d = revised / np.where(norm > 0, norm, 1.0)[:, None]
    if rel == "left of":
        hold = d[:, 0] < -0.5
    elif rel == "right of":
        hold = d[:, 0] > 0.5
    elif rel == "above":
        hold = d[:, 1] < -0.5
    else:
        hold = d[:, 1] > 0.5
    return some & hold


def _firm_mask(a: np.ndarray, rel: str, b: np.ndarray, firm: bool = True) -> np.ndarray:
    """Rows where ``rel`` holds (``firm``) or fails (not ``firm``) under every slack shift of ``a``."""
    out = np.ones(len(a), dtype=bool)
    for dx, dy in _SHIFTS * RELATION_SLACK:
        held = _relation_mask(a + np.array([dx, dy, dx, dy]), rel, b)
        out &= held if firm else ~held
    return out


def holds_firmly(a: tuple[float, float, float, float], rel: str, b: tuple[float, float, float, float]) -> bool:
    """``rel`` holds between boxes ``a`` and ``b`` even after ``a`` moves by the slack."""
    return bool(_firm_mask(np.array([a], float), rel, np.array([b], float))[0])


def fails_firmly(a: tuple[float, float, float, float], rel: str, b: tuple[float, float, float, float]) -> bool:
    """``rel`` does not hold between ``a`` and ``b``, even after ``a`` moves by the slack."""
    return bool(_firm_mask(np.array([a], float), rel, np.array([b], float), firm=False)[0])


def fits(obj: SceneObject, others: Sequence[SceneObject]) -> bool:
    """``obj`` keeps the gap from every object in ``others``."""
    return not any(boxes_overlap(obj.bbox, o.bbox, GAP) for o in others)


def _candidates(shape: str, size: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random centres inside the border, and their boxes (n, 4)."""
    hw, hh = shape_half_extent(shape, size)
    xs = rng.uniform(hw + BORDER, 1 - hw - BORDER, size=n)
    ys = rng.uniform(hh + BORDER, 1 - hh - BORDER, size=n)
    # Filled column by column (np.stack's overhead is most of the cost at this size).
    centres, boxes = np.empty((n, 2)), np.empty((n, 4))
    centres[:, 0], centres[:, 1] = xs, ys
    np.subtract(xs, hw, out=boxes[:, 0])
    np.subtract(ys, hh, out=boxes[:, 1])
    np.add(xs, hw, out=boxes[:, 2])
    np.add(ys, hh, out=boxes[:, 3])
    return centres, boxes


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
    Candidates are drawn ``tries`` at a time and tested together (vectorised); with one item
    a restart could not help, so there is none. Raises :class:`LayoutError` when no layout
    is found.
    """
    n_fixed = len(fixed)
    # Big objects first: small ones fit into the gaps that are left.
    order = sorted(range(len(items)), key=lambda k: -shape_half_extent(items[k][0], items[k][2])[0])
    for _ in range(restarts if len(items) > 1 else 1):
        placed: dict[int, SceneObject] = dict(enumerate(fixed))
        boxes: dict[int, np.ndarray] = {i: np.array(o.bbox) for i, o in placed.items()}
        ok = True
        for k in order:
            shape, color, size = items[k]
            idx = n_fixed + k
            centres, cand = _candidates(shape, size, rng, tries)
            valid = np.ones(tries, dtype=bool)
            if boxes:
                other = np.stack(list(boxes.values()))[None, :, :]
                c = cand[:, None, :]
                apart = (
                    (c[..., 2] + GAP <= other[..., 0])
                    | (other[..., 2] + GAP <= c[..., 0])
                    | (c[..., 3] + GAP <= other[..., 1])
                    | (other[..., 3] + GAP <= c[..., 1])
                )
                valid &= apart.all(axis=1)
            for i, rel, j in relations:
                if i == idx and j in boxes:
                    valid &= _firm_mask(cand, rel, np.broadcast_to(boxes[j], cand.shape))
                elif j == idx and i in boxes:
                    # "i rel cand" held firmly <=> "cand inverse-rel i" held firmly (the rule is symmetric).
                    valid &= _firm_mask(cand, INVERSE_RELATION[rel], np.broadcast_to(boxes[i], cand.shape))
            hits = np.flatnonzero(valid)
            if not len(hits):
                ok = False
                break
            x, y = centres[hits[0]]
            placed[idx] = SceneObject(shape, color, size, float(x), float(y))
            boxes[idx] = cand[hits[0]]
        if ok:
            return [placed[n_fixed + k] for k in range(len(items))]
    raise LayoutError(
        f"could not place {len(items)} object(s) among {n_fixed} fixed one(s) with "
        f"{len(relations)} relation(s); the canvas is too crowded or the relations contradict"
    )
