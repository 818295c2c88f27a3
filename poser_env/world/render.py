"""Render a :class:`Scene` to an RGB image (uint8, H x W x 3).

Rendering is a pure function of the scene and the canvas size: the same scene always gives
the same pixels (artefacts are placed by ``scene.artifact_seed``).

Styles, and why each keeps the world fair to a pixel critic:

- ``plain``: flat filled shapes.
- ``pixel-art``: drawn on a grid of blocks ``canvas // 64`` pixels wide (2 px at 128) and
  scaled up without smoothing. Blocks stay small enough that shapes keep their geometry.
- ``sketch``: outlines only, in the object's colour, on the background. Colour and shape
  remain readable from the stroke; the interior is the background. Strokes are
  ``canvas / 43`` pixels wide (3 px at 128): PIL draws a width-2 outline with 1-pixel
  segments on some slopes, which noise could break open.
- ``watercolor``: flat shapes softened by a Gaussian blur of ``canvas / 96`` pixels. The blur
  widens edges but never shifts a centre nor mixes two objects (objects keep a gap). At
  small canvases it is a cascade of binomial passes (std 1.41 px at 128).

Artefacts are added after the style: Gaussian pixel noise and stray specks.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from poser_env.memo import LRU, digest, remember_key
from poser_env.world import vocab
from poser_env.world.geometry import polygon_pixels
from poser_env.world.scene import DEFAULT_CANVAS, Scene, check_canvas


def pixel_block(canvas: int) -> int:
    """Side of a pixel-art block at this canvas size."""
    return max(2, canvas // 64)


def sketch_width(canvas: int) -> int:
    """Stroke width of the sketch style."""
    return max(2, round(canvas / 43))


def blur_radius(canvas: int) -> float:
    """Gaussian radius of the watercolor style."""
    return canvas / 96


def _blur(img: Image.Image, sigma: float) -> np.ndarray | Image.Image:
    """Gaussian blur of std ``sigma``. Small ones (the default canvas) are a cascade of 1-2-1
    binomial passes in numpy (variance 1/2 each), several times faster than PIL's filter on
    RGB; large ones go to PIL."""
    passes = max(1, round(2.0 * sigma * sigma))
    if passes > 8:
        return img.filter(ImageFilter.GaussianBlur(sigma))
    a = np.asarray(img, dtype=np.float32)
    h, w = a.shape[:2]
    a = a.reshape(h, w * 3).copy()
    tmp = np.empty_like(a)
    for _ in range(passes):
        # Along y, then along x (channels are interleaved, so x-neighbours are 3 apart);
        # edges replicate.
        np.add(a[:-2], a[2:], out=tmp[1:-1])
        tmp[1:-1] += a[1:-1]
        tmp[1:-1] += a[1:-1]
        np.multiply(a[0], 3.0, out=tmp[0])
        tmp[0] += a[1]
        np.multiply(a[-1], 3.0, out=tmp[-1])
        tmp[-1] += a[-2]
        np.add(tmp[:, :-6], tmp[:, 6:], out=a[:, 3:-3])
        a[:, 3:-3] += tmp[:, 3:-3]
        a[:, 3:-3] += tmp[:, 3:-3]
        np.multiply(tmp[:, :3], 3.0, out=a[:, :3])
        a[:, :3] += tmp[:, 3:6]
        np.multiply(tmp[:, -3:], 3.0, out=a[:, -3:])
        a[:, -3:] += tmp[:, -6:-3]
        a *= 1.0 / 16.0
    return np.rint(a, out=a).astype(np.uint8).reshape(h, w, 3)


def speck_size(canvas: int) -> int:
    return max(1, canvas // 64)


def _draw_shapes(scene: Scene, size: int, outline: int | None) -> Image.Image:
    img = Image.new("RGB", (size, size), vocab.BACKGROUNDS[scene.background])
    draw = ImageDraw.Draw(img)
    for o in scene.objects:
        poly = polygon_pixels(o.shape, o.size, o.x, o.y, size)
        color = vocab.COLORS[o.color]
        if outline is None:
            draw.polygon(poly, fill=color)
        else:
            draw.polygon(poly, outline=color, width=outline)
    return img


#: Renderings of recent scenes (an edit that fails, a blank source, a retried canvas recur),
#: each with its pixel digest and bytes; a pure function of (scene, canvas), so the cache
#: changes speed only. 64 MiB at most.
_RENDERED: LRU[tuple[np.ndarray, bytes, bytes]] = LRU(512, max_bytes=64 << 20, size_of=lambda a: 2 * a[0].nbytes)


def render(scene: Scene, canvas: int = DEFAULT_CANVAS) -> np.ndarray:
    """Draw ``scene`` on a ``canvas`` x ``canvas`` RGB image and return it as uint8 (a new,
    writable array; recent scenes come from a per-process cache, whose copies ``pixel_key``
    knows the digest of while their pixels are unchanged: the critic hashes no repeat)."""
    check_canvas(canvas)
    try:
        key = (scene, canvas)
        hit = _RENDERED.get(key)
    except TypeError:  # an unhashable scene-like object: draw it without the cache
        return _render(scene, canvas)
    if hit is None:
        img = _render(scene, canvas)
        img.setflags(write=False)
        hit = _RENDERED.put(key, (img, digest(img), img.tobytes()))
    out = hit[0].copy()
    remember_key(out, hit[1], hit[2])
    return out


def _render(scene: Scene, canvas: int) -> np.ndarray:
    if scene.style == "pixel-art":
        block = pixel_block(canvas)
        small = -(-canvas // block)
        img = _draw_shapes(scene, small, None).resize((small * block, small * block), Image.NEAREST)
        img = img.crop((0, 0, canvas, canvas))
    elif scene.style == "sketch":
        img = _draw_shapes(scene, canvas, sketch_width(canvas))
    elif scene.style == "watercolor":
        img = _blur(_draw_shapes(scene, canvas, None), blur_radius(canvas))
    else:
        img = _draw_shapes(scene, canvas, None)
    arr = img if isinstance(img, np.ndarray) else np.asarray(img, dtype=np.uint8)
    if scene.clean:
        return arr.copy()
    return add_artifacts(arr, scene.noise, scene.speckles, scene.artifact_seed)


_NOISE_TABLE_SIZE = 1 << 20


@lru_cache(maxsize=1)
def _noise_table() -> np.ndarray:
    """A fixed table of standard normal samples (float32, 4 MiB, drawn once per process)."""
    return np.random.default_rng(20240601).standard_normal(_NOISE_TABLE_SIZE, dtype=np.float32)


def _normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal noise of ``shape``: a window of the fixed table at a random offset and
    stride (drawing fresh samples costs more than the rest of a render); sizes beyond the
    table are drawn fresh. Samples are independent within an image and fixed by ``rng``."""
    n = int(np.prod(shape))
    if n * 4 > _NOISE_TABLE_SIZE:
        return rng.standard_normal(size=shape, dtype=np.float32)
    stride = int(rng.integers(1, 4))
    start = int(rng.integers(0, _NOISE_TABLE_SIZE - n * stride))
    return _noise_table()[start : start + n * stride : stride].reshape(shape)


#: A speck never takes a palette colour within this RGB distance of a pixel it covers or
#: touches: a speck the colour of what it lands on would be invisible, or would merge with
#: an object of its colour, and no critic could see it (the world must stay fair).
SPECK_CONTRAST = 100.0


def add_artifacts(image: np.ndarray, noise: float, speckles: int, seed: int) -> np.ndarray:
    """Add Gaussian noise (std ``noise * 255``) and ``speckles`` specks, placed by ``seed``.

    Each speck is a square of a palette colour that differs visibly from everything under and
    around it (see :data:`SPECK_CONTRAST`)."""
    rng = np.random.default_rng(seed)
    out = np.array(image, dtype=np.uint8, copy=True)
    h, w = out.shape[:2]
    if speckles:
        s = speck_size(w)
        palette = np.array(list(vocab.COLORS.values()), dtype=np.float32)
        ys = rng.integers(0, h - s + 1, size=speckles)
        xs = rng.integers(0, w - s + 1, size=speckles)
        cs = rng.integers(0, len(palette), size=speckles)
        for y, x, c in zip(ys, xs, cs):
            around = out[max(y - 1, 0) : y + s + 1, max(x - 1, 0) : x + s + 1].reshape(-1, 1, 3).astype(np.float32)
            close = (((around - palette[None]) ** 2).sum(2) < SPECK_CONTRAST**2).any(0)
            free = np.flatnonzero(~close)
            out[y : y + s, x : x + s] = palette[free[c % free.size] if free.size else c]
    if noise > 0:
        f = out.astype(np.float32)
        f += _normal(rng, f.shape) * np.float32(noise * 255.0)
        np.clip(f, 0.0, 255.0, out=f)
        return np.rint(f, out=f).astype(np.uint8)
    return out
