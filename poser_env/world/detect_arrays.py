"""Array passes of the pixel detector (``detect.py``) that hold none of its thresholds.

Noise estimate, smoothing, colour codes, enclosed-background filling, per-object pixel counts
and extents, and template drawing: each a few numpy, scipy or PIL calls on the whole canvas or
on all objects at once, so that ``detect.analyse`` keeps its per-object Python work small. The
thresholds, lookup tables and shape prototypes that decide what the detector reads stay in
``detect.py``; these functions only measure.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from poser_env.world.geometry import shape_half_extent, unit_polygon


def noise_sigma(img: np.ndarray) -> float:
    """Noise std in grey levels (0.0 when most horizontal neighbours are equal), on every
    fourth row: thousands of pixel pairs are plenty."""
    rows = img[::4]
    if 2 * np.count_nonzero(rows[:, 1:] != rows[:, :-1]) <= rows[:, 1:].size:
        return 0.0
    rows = rows.astype(np.int16)
    dx = np.abs(rows[:, 1:] - rows[:, :-1]).ravel()
    hist = np.bincount(dx, minlength=256)
    cap = min(255, 5 * int(np.searchsorted(np.cumsum(hist), dx.size / 2.0)) + 2)
    k = np.arange(cap + 1, dtype=np.float64)
    var_d = float((hist[: cap + 1] * k * k).sum() / max(1, hist[: cap + 1].sum()))
    return math.sqrt(max(var_d - 1.0 / 6.0, 0.25) / 2.0)  # a difference: twice the variance, + rounding


def smooth(img: np.ndarray) -> np.ndarray:
    """3x3 binomial smoothing (1-2-1 per axis, float32): noise std / 2.7, while a stroke keeps
    3/4 of its contrast and the halo beside a hard edge gets 1/4. In place on two buffers:
    fresh temporaries of this size cost more than the arithmetic."""
    H, W = img.shape[:2]
    a = img.reshape(H, W * 3).astype(np.float32)
    v = np.empty_like(a)
    np.add(a[:-2], a[2:], out=v[1:-1])
    v[1:-1] += a[1:-1]
    v[1:-1] += a[1:-1]
    np.multiply(a[0], 3.0, out=v[0])
    v[0] += a[1]
    np.multiply(a[-1], 3.0, out=v[-1])
    v[-1] += a[-2]
    np.add(v[:, :-6], v[:, 6:], out=a[:, 3:-3])  # channels interleave: x-neighbours 3 apart
    a[:, 3:-3] += v[:, 3:-3]
    a[:, 3:-3] += v[:, 3:-3]
    np.multiply(v[:, :3], 3.0, out=a[:, :3])
    a[:, :3] += v[:, 3:6]
    np.multiply(v[:, -3:], 3.0, out=a[:, -3:])
    a[:, -3:] += v[:, -6:-3]
    a *= 1.0 / 16.0
    return a.reshape(H, W, 3)


_CODE_WEIGHTS = np.array([4096.0, 64.0, 1.0], dtype=np.float32)


def colour_codes(rgb: np.ndarray) -> np.ndarray:
    """6-bit-per-channel colour codes (int32) of uint8 RGB pixels (any leading shape). One
    product with (4096, 64, 1) in float32, exact: every code is an integer below 2^18, far
    inside float32's 2^24 (faster than shifting and or-ing the three channels)."""
    return ((rgb >> 2).astype(np.float32) @ _CODE_WEIGHTS).astype(np.int32)


def fill_holes(fg: np.ndarray, labels: np.ndarray, big: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give enclosed background (sketch interiors) the label of the object around it: the
    background components that miss the border, owned by the object just above them (a speck
    in a hollow owns nothing). Returns a filled copy of ``labels`` and each label's hole area."""
    bg_labels, nb = ndimage.label(~fg)
    is_hole = np.ones(nb + 1, dtype=bool)
    is_hole[0] = False
    for edge in (bg_labels[0], bg_labels[-1], bg_labels[:, 0], bg_labels[:, -1]):
        is_hole[edge] = False
    hp = np.flatnonzero(is_hole[bg_labels])
    if hp.size == 0:
        return labels, np.zeros(big.size, dtype=np.int64)
    hl = bg_labels.ravel()[hp]
    above = labels.ravel()[hp - labels.shape[1]]
    owner = np.zeros(nb + 1, dtype=labels.dtype)
    owner[hl[big[above]]] = above[big[above]]
    filled = labels.copy()
    filled.ravel()[hp] = owner[hl]
    return filled, np.bincount(owner[hl], minlength=big.size)


def pixel_counts(
    pix: np.ndarray, plab: np.ndarray, pos: np.ndarray, m: int, H: int, W: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` objects' pixels (flat indices ``pix`` labelled ``plab``; ``pos`` maps a label
    to its object's row, any other label to ``m``) counted per image row and per column."""
    p = pos[plab]
    r, c = np.divmod(pix, W)
    rc = np.bincount(p * H + r, minlength=(m + 1) * H).reshape(m + 1, H)[:m]
    cc = np.bincount(p * W + c, minlength=(m + 1) * W).reshape(m + 1, W)[:m]
    return rc, cc


def first_last(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``counts``: the first and last index with pixels (0 and L - 1 when none)."""
    nz = counts > 0
    return nz.argmax(1), counts.shape[1] - 1 - nz[:, ::-1].argmax(1)


def trim_lone_ends(counts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``lo`` and ``hi`` moved inwards past a lone pixel stuck on a wide side (a noise bump or
    speck remnant, which would stretch a square or a circle), per row of ``counts``. Tips
    narrow gradually and are kept."""
    r = np.arange(len(counts))
    wide = np.maximum(5, counts.max(1) // 2)
    long = hi - lo >= 4
    last = counts.shape[1] - 1
    lo = lo + (long & (counts[r, lo] == 1) & (counts[r, np.minimum(lo + 1, last)] >= wide))
    hi = hi - (long & (counts[r, hi] == 1) & (counts[r, np.maximum(hi - 1, 0)] >= wide))
    return lo, hi


def template_mismatch(
    mask: np.ndarray, sl: tuple[slice, slice], shape: str, size: str, cx: float, cy: float, canvas: int, block: int
) -> int:
    """Pixels where ``mask`` (the crop ``sl``) differs from the shape drawn by the renderer's
    rasteriser with its box centred at pixel ``(cx, cy)``; pixel-art is compared on its block
    grid, where it was drawn. (Exact sub-pixel drawing matters: PIL moves a whole edge by a
    pixel for a small shift.)"""
    oy, ox = sl[0].start, sl[1].start
    if block > 1:
        ry, rx = (-oy) % block, (-ox) % block
        mask = mask[ry::block, rx::block]
        oy, ox = (oy + ry) // block, (ox + rx) // block
        small = -(-canvas // block)
        cx, cy, canvas = cx * small / canvas, cy * small / canvas, small
    if mask.size == 0:
        return 1 << 30
    pts = unit_polygon(shape) * (max(shape_half_extent(shape, size)) * canvas) + np.array([cx - ox, cy - oy])
    im = Image.new("L", (mask.shape[1], mask.shape[0]), 0)
    ImageDraw.Draw(im).polygon(pts.ravel().tolist(), fill=1)
    return int(np.count_nonzero(np.frombuffer(im.tobytes(), dtype=bool).reshape(mask.shape) != mask))


def polygon_area(p: np.ndarray) -> float:
    """Area of the polygon with vertices ``p`` (N x 2), by the shoelace formula."""
    return 0.5 * abs(float(np.dot(p[:, 0], np.roll(p[:, 1], 1)) - np.dot(p[:, 1], np.roll(p[:, 0], 1))))
