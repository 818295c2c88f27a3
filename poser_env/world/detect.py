"""The synthetic critic's eyes: a pixel-level detector that reads a rendered image back.

:func:`detect` looks only at pixels (never at a :class:`~poser_env.world.scene.Scene`) and
returns a :class:`~poser_env.world.scene.DetectedScene`, which the judge in ``checks.py``
answers checks on exactly as on the ground truth (``world_check.py`` measures how often the two
agree). The pipeline, and why:

1. **Noise**: on a clean rendering most horizontal neighbours are equal (flat fills dominate
   every style); with Gaussian noise of half a grey level or more most differ. A trimmed RMS
   of the differences then estimates the std. Noisy images are smoothed (3x3 binomial).
2. **Background**: the vocabulary background most border pixels are nearest to.
3. **Foreground**: a pixel is read as ``background + alpha * (colour - background)`` on the
   palette segment it lies nearest to, and kept when ``alpha >= FG_ALPHA`` (or when it lies
   off every segment). That cuts blurred and smoothed edges near half contrast whatever the
   colour, so halos never bridge the gap layouts keep between objects. A lookup table per
   background (6 bits per channel) makes this a few array operations. One 8-connected
   labelling; components too small for an object are speckles.
4. **Colour**: a vote among a component's *pure* pixels (near a palette colour). Blends of an
   object with the background never come near another palette colour, so they abstain.
   Pixels far from the object's own segment are *foreign*: a speck on or against it (the
   renderer never paints a speck the colour it touches). They count as speckles and leave
   the object's mask.
5. **Shape**: the mask, with enclosed background filled (a sketch outline becomes its shape),
   scored on (aspect, fill ratio, vertical centroid offset) against per-style prototypes
   measured on renderings: the flat-topped hexagon is 2 : sqrt(3) wide where a circle is
   1 : 1, a triangle's mass sits low and a heart's high. When two shapes score close (always
   for small circles and hexagons, the hard pair), the renderer's own rasteriser draws both at
   the measured centre and the one differing from the mask in fewer pixels wins.
6. **Size, position**: size from the mask area (blur moves edges, not area); the centre from
   the centroid minus the shape's centroid offset. ``bbox`` is the shape's canonical box at
   that centre, so GenEval's relation rule sees the same box sizes on detections as on the
   ground truth and only the sub-pixel centre error remains.
7. **Style**: enclosed background in most objects means sketch; soft edges (raw contrast on
   the 1-pixel rings around the largest mask far from 0 outside and 1 inside) watercolour;
   strong edges on the block grid pixel-art (a lone plain square can sit on it by chance);
   else plain.

The seven steps share lookup tables, thresholds and the per-style shape prototypes (refit by
``world_check.fit_prototypes``), so they stay here, where a change to one step shows its effect
on the others; ``detect_arrays.py`` holds the array passes that use none of them. Boxes and
extents come from one pixel count per row and column for all objects at once.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import replace
from functools import cache, lru_cache

import numpy as np
from scipy import ndimage

from poser_env.memo import LRU, pixel_key
from poser_env.world import vocab
from poser_env.world.detect_arrays import (
    colour_codes,
    fill_holes,
    first_last,
    noise_sigma,
    pixel_counts,
    polygon_area,
    smooth,
    template_mismatch,
    trim_lone_ends,
)
from poser_env.world.geometry import shape_half_extent, unit_polygon
from poser_env.world.render import pixel_block, speck_size
from poser_env.world.scene import DEFAULT_CANVAS, DetectedObject, DetectedScene

#: Candidate foreground: RGB distance from the background (the smallest object/background
#: distance is 91, white on lavender).
FG_DIST = 25.0
#: Foreground when at least this far along the segment from the background to its colour:
#: above the 1/4 that smoothing leaves beside a hard edge, below the 3/4 left on a stroke.
FG_ALPHA = 0.42
#: Pure: this close to a palette colour. Blends stay >= 51 away from every other colour.
PURE_DIST = 30.0
#: Foreign: this far from the object's own segment (specks differ by >= 100 from it).
FOREIGN_DIST = 35.0
#: Noise std (grey levels) above which segmentation runs on a smoothed copy.
SMOOTH_ABOVE = 2.5
#: Components smaller than this fraction of the smallest object's area are speckles.
SPECK_AREA_FRACTION = 0.25
#: Median fraction of enclosed background (over objects) above which the image is a sketch.
SKETCH_HOLES = 0.05
#: Mean distance from a hard edge on the rings around the largest object: soft above it.
SOFT_EDGES = 0.16
#: Pixel-art when at least this fraction of strong edges lie on the block grid (else ~1/block).
GRID_ON_FRACTION = 0.85
#: Two shapes whose prototype scores differ by less than this are settled by templates
#: (twice as much with artefacts, whose bumps and smoothing blur the features)...
TEMPLATE_MARGIN = 12.0
#: ... and so are small (below this canvas fraction) circles and hexagons within this one.
PAIR_AREA, PAIR_MARGIN = 0.03, 30.0
#: Smallest image side accepted: below it no shape of the vocabulary is recognisable.
MIN_SIDE = 16

_PALETTE = np.array(list(vocab.COLORS.values()), dtype=np.float32)
_COLOR_NAMES: tuple[str, ...] = tuple(vocab.COLORS)
_BACKGROUNDS = np.array(list(vocab.BACKGROUNDS.values()), dtype=np.float32)
_BG_NAMES: tuple[str, ...] = tuple(vocab.BACKGROUNDS)
_BG2 = (_BACKGROUNDS * _BACKGROUNDS).sum(1)
_SHAPES, _SIZES = vocab.SHAPES, tuple(sorted(vocab.SIZES, key=vocab.SIZES.get))
_PAIR = {_SHAPES.index("circle"), _SHAPES.index("hexagon")}
_LINES = _PALETTE[None] - _BACKGROUNDS[:, None]  # background -> colour segments, per background
_LINE2 = (_LINES * _LINES).sum(2)
_FG, _PURE = 16, 32  # flags of the colour table, above the 4 bits of the palette index
_STRUCT8 = np.ones((3, 3), dtype=bool)

#: Shape prototypes per style, one row per shape of ``vocab.SHAPES``: mean (aspect w/h, fill =
#: area / box area, centroid offset / box height), their spreads, and the centroid's offset
#: below the box centre in half-extents. Measured by ``world_check.fit_prototypes`` at the
#: default canvas (clean and noisy); plain matches geometry (hexagon 1.155 / 0.75, circle
#: 1 / 0.785), blur rounds corners and pixel-art quantises, hence one set per style.
PROTOTYPES: dict[str, np.ndarray] = {
    "plain": np.array(
        [
            [0.999, 0.781, 0.000, 0.030, 0.021, 0.012, 0.000],  # circle
            [1.000, 0.999, 0.000, 0.030, 0.020, 0.012, 0.001],  # square
            [1.140, 0.523, 0.159, 0.034, 0.020, 0.012, 0.288],  # triangle
            [1.057, 0.394, 0.041, 0.030, 0.020, 0.013, 0.094],  # star
            [1.145, 0.744, 0.000, 0.035, 0.020, 0.012, 0.000],  # hexagon
            [1.105, 0.616, -0.107, 0.035, 0.022, 0.012, -0.211],  # heart
        ]
    ),
    "pixel-art": np.array(
        [
            [1.008, 0.801, 0.000, 0.057, 0.040, 0.012, 0.000],  # circle
            [1.003, 0.998, 0.000, 0.067, 0.020, 0.012, 0.001],  # square
            [1.140, 0.541, 0.148, 0.054, 0.020, 0.012, 0.277],  # triangle
            [1.045, 0.408, 0.045, 0.043, 0.023, 0.015, 0.091],  # star
            [1.141, 0.737, 0.000, 0.067, 0.024, 0.012, -0.001],  # hexagon
            [1.100, 0.649, -0.105, 0.064, 0.039, 0.018, -0.206],  # heart
        ]
    ),
    "sketch": np.array(
        [
            [1.000, 0.777, 0.000, 0.030, 0.031, 0.012, 0.000],  # circle
            [1.003, 0.999, 0.000, 0.030, 0.020, 0.012, 0.000],  # square
            [1.144, 0.523, 0.159, 0.034, 0.020, 0.012, 0.288],  # triangle
            [1.056, 0.390, 0.042, 0.030, 0.020, 0.013, 0.095],  # star
            [1.147, 0.744, 0.000, 0.035, 0.020, 0.012, 0.000],  # hexagon
            [1.104, 0.611, -0.109, 0.034, 0.026, 0.012, -0.211],  # heart
        ]
    ),
    "watercolor": np.array(
        [
            [0.999, 0.801, 0.000, 0.030, 0.024, 0.012, 0.000],  # circle
            [1.005, 0.977, 0.000, 0.030, 0.033, 0.012, -0.002],  # square
            [1.102, 0.612, 0.130, 0.033, 0.023, 0.012, 0.273],  # triangle
            [1.067, 0.528, 0.037, 0.055, 0.040, 0.012, 0.090],  # star
            [1.104, 0.790, 0.000, 0.054, 0.032, 0.012, 0.000],  # hexagon
            [1.178, 0.680, -0.085, 0.034, 0.023, 0.012, -0.212],  # heart
        ]
    ),
}


def detect(image: np.ndarray) -> DetectedScene:
    """Read objects, background, style and artefacts from an RGB image (see the module doc).

    Accepts an H x W x 3 array: uint8, integers in [0, 255] or floats in [0, 1] (PIL images
    convert with ``np.asarray``); anything else is a ``ValueError`` naming the problem.
    Positions and boxes are fractions of the width (x) and height (y); ``noise`` is the
    estimated std as a fraction of 255, 0.0 below about half a grey level.

    Readings of recent images are cached per process by a digest of their pixels (the critic,
    the extractor and the experts read the same canvases); each call returns its own copy.
    """
    seen = detect_shared(as_image(image))
    return replace(seen, objects=[replace(o) for o in seen.objects])


_DETECTED: LRU[DetectedScene] = LRU(1024)


def detect_shared(img: np.ndarray, key: bytes | None = None) -> DetectedScene:
    """:func:`detect` on a validated uint8 image, returning the cached reading itself: for
    callers that only read it (the critic's judge). Never modify the result. ``key``: the
    image's ``pixel_key`` when the caller has it already (else it is computed)."""
    key = pixel_key(img) if key is None else key
    seen = _DETECTED.get(key)
    if seen is None:
        seen = _DETECTED.put(key, analyse(img)[0])
    return seen


def as_image(image: object) -> np.ndarray:
    try:
        a = np.asarray(image)
    except Exception as e:  # noqa: BLE001 - anything unconvertible is a user error
        raise ValueError(f"image must be an array-like, got {type(image).__name__}: {e}") from e
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"image must be a numeric (uint8 or float) array, got dtype {a.dtype}")
    if a.ndim != 3:
        raise ValueError(f"image must be H x W x 3 (RGB), got {a.ndim} dimension(s) with shape {a.shape}")
    if a.shape[2] != 3:
        raise ValueError(f"image must have 3 channels (RGB), got {a.shape[2]} (shape {a.shape})")
    if min(a.shape[:2]) < MIN_SIDE:
        raise ValueError(f"image is too small ({a.shape[0]} x {a.shape[1]}); each side needs >= {MIN_SIDE} px")
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise ValueError("image contains NaN or infinite values")
        if a.min() < 0.0 or a.max() > 1.0:
            raise ValueError(
                f"a float image must lie in [0, 1], got [{a.min():.3g}, {a.max():.3g}]; pass uint8 for 0-255 data"
            )
        return np.rint(a * 255.0).astype(np.uint8)
    if a.min() < 0 or a.max() > 255:
        raise ValueError(f"an integer image must lie in [0, 255], got values in [{a.min()}, {a.max()}]")
    return a.astype(np.uint8)


def analyse(img: np.ndarray, debug: bool = False) -> tuple[DetectedScene, list[dict]]:
    """The detector proper; ``debug`` also returns the objects' features (for calibration)."""
    H, W = img.shape[:2]
    sigma = noise_sigma(img)
    noise = round(sigma / 255.0, 4) if sigma > 0 else 0.0
    bg_i = _background(img)
    empty = DetectedScene([], _BG_NAMES[bg_i], vocab.DEFAULT_STYLE, noise, 0)
    work = smooth(img) if sigma > SMOOTH_ABOVE else img
    lut, far = colour_table(bg_i)
    code = colour_codes(work if work.dtype == np.uint8 else work.astype(np.uint8)).ravel()
    fg = np.take(_fg_table(bg_i), code).reshape(H, W)
    idx = np.flatnonzero(fg)
    if idx.size == 0:
        return empty, []
    labels, n = ndimage.label(fg, _STRUCT8)
    lab = labels.ravel()[idx]
    areas = np.bincount(lab, minlength=n + 1)
    big = areas >= SPECK_AREA_FRACTION * _smallest_area_fraction() * H * W
    big[0] = False
    ks = np.flatnonzero(big)
    empty.speckles = speckles = int(n - ks.size)
    if ks.size == 0:
        return empty, []
    code = code[idx]
    info = lut[code]
    col = _votes(lab, info & 15, (info & _PURE) != 0, n, ks)
    foreign = ((far[code] >> col[lab]) & 1) != 0
    n_foreign = np.bincount(lab[foreign], minlength=n + 1)[ks]
    speckles += int(np.count_nonzero(n_foreign >= max(1, speck_size(W) ** 2 // 2)))
    m = ks.size
    pos = np.full(n + 1, m, dtype=np.intp)  # label -> object row (m: not an object)
    pos[ks] = np.arange(m)
    own = ~foreign
    rc, cc = pixel_counts(idx[own], lab[own], pos, m, H, W)
    # Integer sums, exact in float64 whatever the order: the same values as weighted bincounts.
    area = rc.sum(1).astype(np.float64)
    sum_y, sum_x = (rc @ np.arange(H)).astype(np.float64), (cc @ np.arange(W)).astype(np.float64)

    filled, sketch = labels, False
    cy, cx = (sum_y / np.maximum(area, 1)).astype(np.intp), (sum_x / np.maximum(area, 1)).astype(np.intp)
    if not fg[cy, cx].all():
        # Some object is hollow at its centroid: fill enclosed background (sketch outlines).
        filled, hole_area = fill_holes(fg, labels, big)
        fracs = sorted((hole_area[ks] / (areas[ks] + hole_area[ks])).tolist())
        sketch = fracs[len(fracs) // 2] >= SKETCH_HOLES
    holes = filled is not labels
    if sketch and work is not img:
        # Smoothing blends thin strokes; raw stroke pixels are pure colour plus noise: they
        # vote by their own segment (background-like ones abstain).
        raw = lut[colour_codes(img.reshape(-1, 3)[idx])]
        col = _votes(lab, raw & 15, (raw & _FG) != 0, n, ks)
    if foreign.any():
        filled = filled.copy() if filled is labels else filled
        filled.ravel()[idx[foreign]] = 0
    if holes:  # the objects' pixels are the filled ones (boxes, and in a sketch the sums)
        pix = np.flatnonzero(filled)
        rc, cc = pixel_counts(pix, filled.ravel()[pix], pos, m, H, W)
        if sketch:
            area, sum_y, sum_x = (
                rc.sum(1),
                (rc @ np.arange(H)).astype(np.float64),
                (cc @ np.arange(W)).astype(np.float64),
            )
    objs = _objects(filled, ks, col, area, sum_y, sum_x, rc, cc, bumpy=sigma > 0 or speckles > 0)
    if not objs:
        return empty, []
    style = "sketch" if sketch else _style(img, sigma, _BACKGROUNDS[bg_i], objs)
    objects = _classify(objs, style, H, W, bumpy=sigma > 0 or speckles > 0)
    return DetectedScene(objects, _BG_NAMES[bg_i], style, noise, speckles), (objs if debug else [])


def _objects(
    filled: np.ndarray,
    ks: np.ndarray,
    col: np.ndarray,
    area: np.ndarray,
    sum_y: np.ndarray,
    sum_x: np.ndarray,
    rc: np.ndarray,
    cc: np.ndarray,
    bumpy: bool,
) -> list[dict]:
    """Per object: its box crop (one pixel of margin), colour, area, centroid and features.
    Boxes and extents come from each object's pixel counts per row (``rc``) and column
    (``cc``), all objects at once."""
    H, W = filled.shape
    (r0, r1), (c0, c1) = first_last(rc), first_last(cc)
    # Noise bumps and speck remnants can stretch a box: skip lone end pixels.
    (y0s, y1s), (x0s, x1s) = (trim_lone_ends(rc, r0, r1), trim_lone_ends(cc, c0, c1)) if bumpy else ((r0, r1), (c0, c1))
    boxes = zip(
        r0.tolist(), r1.tolist(), c0.tolist(), c1.tolist(), y0s.tolist(), y1s.tolist(), x0s.tolist(), x1s.tolist()
    )
    objs = []
    for i, (k, (a0, a1, b0, b1, y0, y1, x0, x1)) in enumerate(zip(ks.tolist(), boxes)):
        if area[i] == 0:
            continue  # nothing but foreign pixels
        sl = (slice(max(a0 - 1, 0), min(a1 + 2, H)), slice(max(b0 - 1, 0), min(b1 + 2, W)))
        o = dict(k=k, sl=sl, labels=filled, ci=int(col[k]), area=int(area[i]))
        o["my"], o["mx"] = sum_y[i] / area[i] + 0.5, sum_x[i] / area[i] + 0.5
        h, w = y1 - y0 + 1, x1 - x0 + 1
        o["feat"] = (w / h, o["area"] / (w * h), (o["my"] - y0 - h / 2.0) / h)
        objs.append(o)
    return objs


def _classify(objs: list[dict], style: str, H: int, W: int, bumpy: bool) -> list[DetectedObject]:
    """Shape (prototypes, then templates when close), size and canonical box per object."""
    block = pixel_block(W) if style == "pixel-art" else 1
    mu, sd, dys = _prototypes(style, min(H, W))
    scores = (((np.array([o["feat"] for o in objs])[:, None, :] - mu) / sd) ** 2).sum(2)
    scores -= scores.min(1, keepdims=True)
    orders = np.argsort(scores, axis=1)[:, :3].tolist()
    margins = [[row[j] for j in order] for row, order in zip(scores.tolist(), orders)]
    confs = (1.0 / np.exp(-scores / 2.0).sum(1)).tolist()
    out = []
    tm = TEMPLATE_MARGIN * (2.0 if bumpy else 1.0)
    for o, order, margin, conf in zip(objs, orders, margins, confs):
        si = order[0]
        close = [j for j, m in zip(order[1:], margin[1:]) if m < tm]
        if not close and {si, order[1]} == _PAIR and o["area"] < PAIR_AREA * H * W and margin[1] < PAIR_MARGIN:
            close = [order[1]]
        if close:
            best = None
            for j in [si] + close:
                size_j = _size_for(_SHAPES[j], o["area"], H, W, block)
                cy = o["my"] - dys[j] * max(shape_half_extent(_SHAPES[j], size_j)) * H
                mm = template_mismatch(_mask(o), o["sl"], _SHAPES[j], size_j, o["mx"], cy, W, block)
                if best is None or mm < best:
                    best, si = mm, j
            o["template"] = best
        shape = o["shape"] = _SHAPES[si]
        size = _size_for(shape, o["area"], H, W, block)
        hw, hh = shape_half_extent(shape, size)
        x, y = o["mx"] / W, o["my"] / H - float(dys[si]) * max(hw, hh)
        box = (x - hw, y - hh, x + hw, y + hh)
        out.append(DetectedObject(shape, _COLOR_NAMES[o["ci"]], size, x, y, box, o["area"] / (H * W), conf))
    return out


@lru_cache(maxsize=64)
def _prototypes(style: str, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The style's prototype means, spreads and centroid offsets (broadcast over objects).
    Spreads were measured at the default canvas; on smaller ones pixels are coarser."""
    proto = PROTOTYPES[style]
    return proto[None, :, :3], proto[None, :, 3:6] * max(1.0, DEFAULT_CANVAS / side), proto[:, 6]


def _style(img: np.ndarray, sigma: float, bgc: np.ndarray, objs: list[dict]) -> str:
    """Pixel-art (strong edges on the block grid; smoothed noisy blocks can look soft), else
    watercolour (soft edges) or plain; sketch is known from the holes. Edges are strong when
    the summed channel difference beats ``60 + 8 sigma``, which noise alone does not."""
    largest = max(objs, key=lambda o: o["area"])
    soft, ring = _ring_softness(img, largest["sl"], _mask(largest), bgc, _PALETTE[largest["ci"]] - bgc)
    soft_style = "watercolor" if soft >= SOFT_EDGES * max(ring, 1) else "plain"
    # Summed differences are integers: "> 60 + 8 sigma" is "> its floor", compared in int16.
    block, tau = pixel_block(img.shape[1]), math.floor(60.0 + 8.0 * sigma)
    on = tot = 0
    for i, o in enumerate(objs):
        (r, c), d = o["sl"], img[o["sl"]].astype(np.int16)
        dx, dy = np.abs(d[:, 1:] - d[:, :-1]), np.abs(d[1:] - d[:-1])
        sx, sy = dx[..., 0] + dx[..., 1], dy[..., 0] + dy[..., 1]
        sx += dx[..., 2]
        sy += dy[..., 2]
        sx, sy = sx > tau, sy > tau
        # edges after column (row) j are on the grid when (start + 1 + j) % block == 0
        on += np.count_nonzero(sx[:, -(c.start + 1) % block :: block]) + np.count_nonzero(
            sy[-(r.start + 1) % block :: block]
        )
        tot += np.count_nonzero(sx) + np.count_nonzero(sy)
        if tot >= 20 and on < 0.6 * tot:  # plainly off the grid: spare the other objects
            return soft_style
        if i >= 3 and tot >= 150 and on >= 0.97 * tot:
            return "pixel-art"
    # Soft edges need more evidence: blur leaves few strong edges, which may all fall on it.
    enough = 8 if soft_style == "plain" else 100
    return "pixel-art" if tot >= enough and on >= GRID_ON_FRACTION * tot else soft_style


def _background(img: np.ndarray) -> int:
    """Index of the background that most border pixels (every other one) are nearest to."""
    b = np.concatenate([img[0], img[-1], img[1:-1, 0], img[1:-1, -1]])[::2]
    # Distances are sums of products of integers below 2^24: exact in float32 in any order,
    # so a border of one colour may be scored as that one pixel.
    one = bool((b == b[0]).all())
    d = _BG2 - 2.0 * (b[:1] if one else b).astype(np.float32) @ _BACKGROUNDS.T
    return int(d[0].argmin()) if one else int(np.bincount(d.argmin(1), minlength=len(_BACKGROUNDS)).argmax())


@cache
def colour_table(bg_i: int) -> tuple[np.ndarray, np.ndarray]:
    """For each 6-bit colour code (bin centre) against background ``bg_i``: the nearest palette
    segment's index with the foreground and pure flags (``lut``), and a bit per palette colour
    set when farther than ``FOREIGN_DIST`` from that colour's segment (``far``). Built once
    per background (~50 ms)."""
    c = np.arange(64, dtype=np.float32) * 4.0 + 1.5
    rgb = np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1).reshape(-1, 3) - _BACKGROUNDS[bg_i]
    lines, line2 = _LINES[bg_i], _LINE2[bg_i]
    lut = np.empty(len(rgb), dtype=np.uint8)
    far = np.zeros(len(rgb), dtype=np.uint16)
    for lo in range(0, len(rgb), 16384):  # chunks that stay in cache
        p = rgb[lo : lo + 16384]
        dots = p @ lines.T
        alpha = np.clip(dots / line2, 0.0, 1.25)
        p2 = (p * p).sum(1)
        res = p2[:, None] - alpha * (2.0 * dots - alpha * line2)  # |p - alpha v|^2 per segment
        best = res.argmin(1)
        r = np.arange(best.size)
        a_b, res_b = alpha[r, best], res[r, best]
        fg = (p2 > FG_DIST**2) & ((a_b >= FG_ALPHA) | (res_b > FOREIGN_DIST**2))
        pure = res_b + (1.0 - a_b) ** 2 * line2[best] < PURE_DIST**2
        lut[lo : lo + 16384] = best | fg * _FG | pure * _PURE
        for j, out in enumerate((res > FOREIGN_DIST**2).T):
            far[lo : lo + 16384] |= out.astype(np.uint16) << j
    return lut, far


@cache
def _fg_table(bg_i: int) -> np.ndarray:
    """The foreground flag of ``colour_table(bg_i)``'s look-up table, as booleans."""
    return (colour_table(bg_i)[0] & _FG) != 0


def _votes(lab: np.ndarray, colour: np.ndarray, pure: np.ndarray, n: int, ks: np.ndarray) -> np.ndarray:
    """Each component's colour: the commonest among its pure pixels (among all of them when
    it has none, as garbage input may)."""
    m = len(_PALETTE)
    key = lab * m + colour
    votes = np.bincount(key[pure], minlength=(n + 1) * m).reshape(n + 1, m)
    loose = votes.sum(1) == 0
    if loose[ks].any():
        votes[loose] = np.bincount(key, minlength=(n + 1) * m).reshape(n + 1, m)[loose]
    return votes.argmax(1)


def _mask(o: dict) -> np.ndarray:
    """An object's mask on its box crop (made on first use: most objects never need one)."""
    if "mask" not in o:
        o["mask"] = o["labels"][o["sl"]] == o["k"]
    return o["mask"]


def _ring_softness(
    img: np.ndarray, sl: tuple[slice, slice], mask: np.ndarray, bgc: np.ndarray, cvec: np.ndarray
) -> tuple[float, int]:
    """How far the raw contrast on the 1-pixel rings just outside and inside ``mask`` is from
    a hard edge (0 outside, 1 inside), summed, and the ring size. Noise averages out; blur
    does not."""
    m, inner = mask.view(np.uint8), mask[1:-1, 1:-1]
    near = m[:-2, 1:-1] + m[2:, 1:-1]  # mask pixels among the 4 neighbours
    near += m[1:-1, :-2]
    near += m[1:-1, 2:]
    out = (near != 0) & ~inner
    inn = inner & (near != 4)
    a = (img[sl][1:-1, 1:-1].astype(np.float32) - bgc) @ (cvec / float(cvec @ cvec))
    return float(a[out].sum() + (1.0 - a[inn]).sum()), int(np.count_nonzero(out) + np.count_nonzero(inn))


@cache
def _smallest_area_fraction() -> float:
    """The smallest shape's area as a fraction of the canvas (every analyse needs it)."""
    return min(_area_fraction(s, _SIZES[0]) for s in _SHAPES)


@cache
def _area_fraction(shape: str, size: str) -> float:
    """The shape's area as a fraction of the canvas area."""
    hw, hh = shape_half_extent(shape, size)
    p = unit_polygon(shape)
    return 4 * hw * hh * polygon_area(p) / (np.ptp(p[:, 0]) * np.ptp(p[:, 1]))


@lru_cache(maxsize=256)
def _size_bounds(shape: str, H: int, W: int, unit: int) -> tuple[float, ...]:
    """Pixel-area boundaries between consecutive sizes (geometric means of their expected
    areas). Rasterisation covers about half a pixel (half a block in pixel-art) beyond the
    outline, which matters for small objects on small canvases."""
    expected = []
    for size in _SIZES:
        p = unit_polygon(shape) * max(shape_half_extent(shape, size))
        perimeter = float(np.linalg.norm(np.roll(p, -1, axis=0) - p, axis=1).sum())
        expected.append(_area_fraction(shape, size) * H * W + 0.5 * unit * perimeter * math.sqrt(H * W))
    return tuple(math.sqrt(a * b) for a, b in zip(expected, expected[1:]))


def _size_for(shape: str, area: int, H: int, W: int, unit: int) -> str:
    """The size whose expected pixel area is nearest (in ratio) to ``area``."""
    return _SIZES[bisect.bisect(_size_bounds(shape, H, W, unit), area)]
