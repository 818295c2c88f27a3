"""Compact, bounded features of a canvas image for an RL observation.

:class:`ImageFeatures` turns an RGB image (``uint8``, ``H x W x 3``, any side from 64 to 4096
pixels, not necessarily square) into a fixed-length ``float32`` vector whose every entry lies
in ``[0, 1]`` (``ImageFeatures.space_low`` / ``space_high``), so it fits a Gymnasium ``Box``
with finite bounds. With the default ``thumb=8`` the vector has 215 entries, in this order:

- ``thumb[y,x].c`` (192): an 8 x 8 x 3 colour thumbnail, area-averaged over the whole
  image, row-major, RGB, divided by 255.
- ``frac.<colour>`` (10): fraction of pixels nearest to each of the 10 named object colours
  (``vocab.COLORS``, same order).
- ``frac.bg.<name>`` (5): fraction of pixels nearest to each background colour
  (``vocab.BACKGROUNDS``, same order).
- ``frac.unassigned`` (1): fraction of pixels farther than :data:`PALETTE_RADIUS` from every
  palette colour (blur halos, strong noise, real-world colours). The 16 ``frac`` entries
  above sum to 1.
- ``frac.background`` (1): the sum of the five ``frac.bg.*`` entries.
- ``edges.weak`` (1): ``sqrt`` of the fraction of pixels whose grey level steps by more than
  :data:`WEAK_EDGE` to a right or lower neighbour (soft edges count: watercolour, noise).
- ``edges.strong`` (1): the same above :data:`STRONG_EDGE` (crisp edges only).
- ``noise`` (1): a robust estimate of the per-channel pixel-noise standard deviation (median
  absolute response of Immerkaer's Laplacian-difference mask, which cancels flat areas and
  ignores sparse edges), divided by :data:`NOISE_SCALE` grey levels, clipped to 1.
- ``hf_energy`` (1): the mean absolute response of the same mask (noise *plus* edges and
  specks), divided by :data:`HF_SCALE`, clipped to 1.
- ``lum.mean`` (1): the mean grey level ``(R + G + B) / 3``, divided by 255.
- ``lum.std`` (1): its standard deviation divided by 127.5, clipped to 1.

With ``thumb=t`` the thumbnail has ``3 t^2`` entries and ``dim = 3 t^2 + 23``.

``ImageFeatures().names`` lists the name of every entry.

Scale invariance and speed: all statistics except the thumbnail are computed on a fixed
``grid x grid`` (default 64 x 64) point sample of the image (evenly spaced rows and columns,
nearest pixel, no smoothing, so pixel noise survives the sampling). The same scene drawn at
128 or at 1024 pixels gives close features, and the cost of those statistics does not grow
with the image. The thumbnail is an exact area average; it is the only part whose cost grows
with the image (memory bandwidth only). Measured on a 2-core CPU (see ``docs/encoders.md``):
about 0.13 ms per 128 x 128 image, 0.4 ms at 1024 x 1024.

The palette is the shape world's (``poser_env.world.vocab``); on real images the ``frac``
block still means "how much of each named colour", which real critics' prompts also use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from poser_env.world import vocab

__all__ = [
    "HF_SCALE",
    "ImageFeatures",
    "MAX_SIDE",
    "MIN_SIDE",
    "NOISE_SCALE",
    "PALETTE_RADIUS",
    "STRONG_EDGE",
    "WEAK_EDGE",
    "image_features",
]

#: Smallest and largest accepted image side, in pixels.
MIN_SIDE = 64
MAX_SIDE = 4096
#: A pixel farther than this (Euclidean distance in 0..255 RGB) from every palette colour
#: counts as ``frac.unassigned``.
PALETTE_RADIUS = 64.0
#: Luminance step (0..255 grey levels) between neighbouring sample points that makes a weak
#: and a strong edge.
WEAK_EDGE = 8.0
STRONG_EDGE = 40.0
#: ``noise`` = estimated per-channel noise std in grey levels / NOISE_SCALE (clipped to 1).
#: The shape world's ``noise=n`` artefact (std ``n * 255``) reads about ``2 * n``: 0.02 reads
#: 0.04, 0.1 reads 0.2, and its maximum 0.5 reads 1.
NOISE_SCALE = 128.0
#: ``hf_energy`` = mean absolute mask response in grey levels / HF_SCALE (clipped to 1).
HF_SCALE = 64.0

# 5 bits per channel for the palette look-up table (32 768 entries, built once).
_LUT_BITS = 5
_LUT: np.ndarray | None = None

# Immerkaer: sigma = sqrt(pi / 2) / 6 * E|mask * I| for Gaussian noise; for the median,
# sigma = median|mask * I| / (6 * 0.6745). Applied to R + G + B (std multiplied by sqrt(3)),
# then converted to one channel's grey levels.
_MEDIAN_TO_SIGMA = 1.0 / (6.0 * 0.67449 * math.sqrt(3.0))
_MEAN_TO_LEVELS = 1.0 / (6.0 * math.sqrt(3.0))
#: Mask responses above this give noise >= 1 after scaling, so the median may clip there.
_MEDIAN_CAP = int(math.ceil(NOISE_SCALE / _MEDIAN_TO_SIGMA)) + 1


_CODE_WEIGHTS = np.array([1 << (2 * _LUT_BITS), 1 << _LUT_BITS, 1], dtype=np.float32)
_ONES3 = np.ones(3, dtype=np.float32)


def _palette() -> tuple[np.ndarray, list[str]]:
    names = [f"frac.{c}" for c in vocab.COLORS] + [f"frac.bg.{b}" for b in vocab.BACKGROUNDS]
    rgb = np.array(list(vocab.COLORS.values()) + list(vocab.BACKGROUNDS.values()), dtype=np.float64)
    return rgb, names


def _palette_lut() -> np.ndarray:
    """Index of the nearest palette colour (or ``len(palette)`` = unassigned) per 15-bit RGB."""
    global _LUT
    if _LUT is None:
        rgb, _ = _palette()
        step = 1 << (8 - _LUT_BITS)
        centres = np.arange(1 << _LUT_BITS, dtype=np.float64) * step + (step - 1) / 2.0
        r, g, b = np.meshgrid(centres, centres, centres, indexing="ij")
        cube = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)
        d2 = ((cube[:, None, :] - rgb[None, :, :]) ** 2).sum(axis=2)
        idx = d2.argmin(axis=1)
        idx[d2.min(axis=1) > PALETTE_RADIUS**2] = len(rgb)
        lut = idx.astype(np.uint8)
        lut.setflags(write=False)
        _LUT = lut
    return _LUT


def _as_rgb_array(image: Any) -> np.ndarray:
    """Validate ``image`` and return it as a uint8 H x W x 3 array (no copy when possible)."""
    if hasattr(image, "mode") and hasattr(image, "convert") and hasattr(image, "size"):
        # A PIL image: convert without importing PIL here.
        image = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
    if not isinstance(image, np.ndarray):
        raise ValueError(
            f"image must be a numpy uint8 array of shape (H, W, 3) or a PIL image, got {type(image).__name__}"
        )
    if image.dtype != np.uint8:
        detail = ""
        if np.issubdtype(image.dtype, np.floating) and not np.all(np.isfinite(image)):
            detail = " (and it contains NaN or infinite values)"
        raise ValueError(
            f"image must have dtype uint8 (0..255), got {image.dtype}{detail}; "
            "convert float images in [0, 1] with (np.clip(x, 0, 1) * 255).round().astype(np.uint8)"
        )
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3) (RGB), got {image.shape}")
    h, w = image.shape[:2]
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise ValueError(f"image sides must be in [{MIN_SIDE}, {MAX_SIDE}] pixels, got {h} x {w}")
    return image


def _bin_edges(n: int, bins: int) -> np.ndarray:
    return (np.arange(bins, dtype=np.int64) * n) // bins


class ImageFeatures:
    """Fixed-length ``float32`` features in ``[0, 1]`` of an RGB canvas (see the module doc).

    Args:
        thumb: side of the colour thumbnail (``thumb * thumb * 3`` entries), 1 to 32.
        grid: side of the point sample used for the colour histogram, edges and noise,
            16 to 256. Larger is more precise and slower.

    Call it (or :meth:`encode`) on an image to get a fresh array of shape ``(dim,)``.
    Deterministic: the same pixels always give the same vector. Safe to share between
    threads and environments (the only state written after construction is a small cache of
    sampling indices per image size). Invalid input (not uint8, not ``H x W x 3``, a side outside
    ``[MIN_SIDE, MAX_SIDE]``) raises ``ValueError`` with the reason.
    """

    #: Lower and upper bound of every entry (for ``gymnasium.spaces.Box``).
    space_low: float = 0.0
    space_high: float = 1.0

    def __init__(self, thumb: int = 8, grid: int = 64) -> None:
        if isinstance(thumb, bool) or not isinstance(thumb, int) or not 1 <= thumb <= 32:
            raise ValueError(f"thumb must be an int in [1, 32], got {thumb!r}")
        if isinstance(grid, bool) or not isinstance(grid, int) or not 16 <= grid <= 256:
            raise ValueError(f"grid must be an int in [16, 256], got {grid!r}")
        self.thumb = thumb
        self.grid = grid
        _, pal_names = _palette()
        self._n_palette = len(pal_names)
        self._n_colors = len(vocab.COLORS)
        names = [f"thumb[{y},{x}].{c}" for y in range(thumb) for x in range(thumb) for c in "rgb"]
        names += pal_names + ["frac.unassigned", "frac.background"]
        names += ["edges.weak", "edges.strong", "noise", "hf_energy", "lum.mean", "lum.std"]
        self.names: tuple[str, ...] = tuple(names)
        self.dim: int = len(names)
        self._lut = _palette_lut()
        self._sample_cache: dict[tuple[int, int], tuple] = {}

    def __repr__(self) -> str:
        return f"ImageFeatures(thumb={self.thumb}, grid={self.grid}, dim={self.dim})"

    def box(self):
        """A ``gymnasium.spaces.Box(0, 1, (dim,), float32)`` for these features."""
        from gymnasium import spaces

        return spaces.Box(self.space_low, self.space_high, shape=(self.dim,), dtype=np.float32)

    def _indices(self, h: int, w: int):
        key = (h, w)
        idx = self._sample_cache.get(key)
        if idx is None:
            g, t = self.grid, self.thumb
            # Sample points at the centres of a g x g partition of the image.
            rows = ((2 * np.arange(g) + 1) * h) // (2 * g)
            cols = ((2 * np.arange(g) + 1) * w) // (2 * g)
            # A uniform stride lets the sample be a strided view (faster than a gather).
            rslice = slice(h // g // 2, None, h // g) if h % g == 0 else None
            cslice = slice(w // g // 2, None, w // g) if w % g == 0 else None
            rb, cb = _bin_edges(h, t), _bin_edges(w, t)
            rb_len = np.diff(np.append(rb, h))
            cb_len = np.diff(np.append(cb, w))
            # Column-binning matrix: (w, t), 1 / (255 * bin area) folded in per column bin;
            # the row-bin part of the area is applied after, as (t, 1, 1).
            colmat = np.zeros((w, t), dtype=np.float32)
            for j, (a, n) in enumerate(zip(cb, cb_len)):
                colmat[a : a + n, j] = 1.0 / (255.0 * n)
            rowscale = (1.0 / rb_len).astype(np.float32)[:, None, None]
            idx = (rows, cols, rslice, cslice, rb.tolist(), rb_len.tolist(), colmat, rowscale)
            if len(self._sample_cache) < 64:
                self._sample_cache[key] = idx
        return idx

    def encode(self, image: Any) -> np.ndarray:
        """Features of one image: a new ``float32`` array of shape ``(dim,)`` in ``[0, 1]``."""
        img = _as_rgb_array(image)
        h, w = img.shape[:2]
        rows, cols, rslice, cslice, rb, rb_len, colmat, rowscale = self._indices(h, w)
        t = self.thumb
        out = np.empty(self.dim, dtype=np.float32)

        # 1. Thumbnail: exact area average. Sums over contiguous row blocks are the fast path
        #    in numpy (uint16 accumulators suffice while a block holds <= 257 rows); columns
        #    are then binned by a small matrix product.
        acc = np.uint16 if max(rb_len) <= 257 else np.uint32
        flat = img.reshape(h, w * 3)
        if h % t == 0:
            rsum = flat.reshape(t, h // t, w * 3).sum(axis=1, dtype=acc)
        else:
            rsum = np.stack([flat[a : a + n].sum(axis=0, dtype=acc) for a, n in zip(rb, rb_len)])
        rsum = rsum.reshape(t, w, 3).transpose(0, 2, 1).astype(np.float32)  # (t, 3, w)
        thumb = (rsum @ colmat) * rowscale  # (t, 3, t)
        k = t * t * 3
        out[:k] = thumb.transpose(0, 2, 1).ravel()

        # 2. Point sample (nearest pixel, no smoothing), as (g*g, 3).
        r_sel = img[rslice] if rslice is not None else img.take(rows, axis=0)
        s = r_sel[:, cslice] if cslice is not None else r_sel.take(cols, axis=1)
        s = s.reshape(-1, 3)
        n = s.shape[0]

        # 3. Palette fractions through the 15-bit look-up table.
        code = (s >> (8 - _LUT_BITS)).astype(np.float32) @ _CODE_WEIGHTS
        hist = np.bincount(self._lut[code.astype(np.intp)], minlength=self._n_palette + 1) * (1.0 / n)
        p = self._n_palette
        out[k : k + p + 1] = hist
        out[k + p + 1] = hist[self._n_colors : p].sum()
        k += p + 2

        # 4. Edges on R + G + B (0..765).
        g = self.grid
        gsum = (s.astype(np.float32) @ _ONES3).reshape(g, g)
        dx = np.abs(gsum[:-1, 1:] - gsum[:-1, :-1])
        dy = np.abs(gsum[1:, :-1] - gsum[:-1, :-1])
        step = np.maximum(dx, dy)
        m = step.size
        out[k] = math.sqrt(np.count_nonzero(step > 3 * WEAK_EDGE) / m)
        out[k + 1] = math.sqrt(np.count_nonzero(step > 3 * STRONG_EDGE) / m)

        # 5. Noise: Immerkaer's mask [1 -2 1]^T [1 -2 1] (separable), robust median and mean.
        d = gsum[:, :-2] - 2.0 * gsum[:, 1:-1] + gsum[:, 2:]
        lap = np.abs(d[:-2] - 2.0 * d[1:-1] + d[2:]).ravel()
        # Median by counting: the response is an integer (sums of integers), and values above
        # _MEDIAN_CAP already saturate the feature. np.partition is slow on the many ties that
        # flat images give (all zeros).
        counts = np.bincount(np.minimum(lap, _MEDIAN_CAP).astype(np.intp), minlength=_MEDIAN_CAP + 1)
        med = float(np.searchsorted(np.cumsum(counts), (lap.size + 1) // 2))
        out[k + 2] = min(1.0, med * _MEDIAN_TO_SIGMA / NOISE_SCALE)
        out[k + 3] = min(1.0, float(lap.mean()) * _MEAN_TO_LEVELS / HF_SCALE)

        # 6. Grey level (R + G + B) / 3 on the sample: mean and standard deviation.
        mean = float(gsum.mean())
        var = max(0.0, float(np.dot(gsum.ravel(), gsum.ravel())) / gsum.size - mean * mean)
        out[k + 4] = mean / 765.0
        out[k + 5] = min(1.0, math.sqrt(var) / (3 * 127.5))
        # Guard against rounding a hair above 1 (e.g. 255 * (1 / 255) in float64 -> float32).
        np.clip(out, 0.0, 1.0, out=out)
        return out

    __call__ = encode


_DEFAULT: ImageFeatures | None = None


def image_features(image: Any) -> np.ndarray:
    """Features of ``image`` with the default :class:`ImageFeatures` (215 entries)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ImageFeatures()
    return _DEFAULT(image)
