"""ImageFeatures: shape, bounds, determinism, meaning of the entries, validation, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poser_env.encoders.image import MAX_SIDE, MIN_SIDE, ImageFeatures, image_features
from poser_env.world import vocab
from poser_env.world.render import render
from poser_env.world.scene import Scene, SceneObject

FEATS = ImageFeatures()
OBJECTS = (
    SceneObject("circle", "red", "large", 0.3, 0.3),
    SceneObject("square", "blue", "small", 0.7, 0.7),
    SceneObject("star", "yellow", "large", 0.7, 0.3),
)


def scene_image(canvas: int = 128, **kw) -> np.ndarray:
    return render(Scene(objects=kw.pop("objects", OBJECTS), **kw), canvas)


def idx(name: str) -> int:
    return FEATS.names.index(name)


def test_shape_dtype_range_and_names():
    v = FEATS(scene_image())
    assert FEATS.dim == 215 == v.shape[0] == len(FEATS.names) == len(set(FEATS.names))
    assert v.dtype == np.float32 and np.all(np.isfinite(v))
    assert FEATS.space_low <= v.min() and v.max() <= FEATS.space_high
    box = FEATS.box()
    assert box.shape == (215,) and box.dtype == np.float32 and box.contains(v)
    assert np.isfinite(box.low).all() and np.isfinite(box.high).all()
    assert ImageFeatures(thumb=4).dim == 4 * 4 * 3 + 23


def test_deterministic_and_fresh_arrays():
    img = scene_image(noise=0.05, speckles=5, artifact_seed=1)
    a, b = FEATS(img), ImageFeatures().encode(img.copy())
    np.testing.assert_array_equal(a, b)
    assert not np.shares_memory(a, b)
    a[:] = -1
    np.testing.assert_array_equal(FEATS(img), b)
    np.testing.assert_array_equal(image_features(img), b)


def test_input_is_not_modified():
    img = scene_image()
    before = img.copy()
    FEATS(img)
    np.testing.assert_array_equal(img, before)


def test_different_images_give_different_features():
    base = FEATS(scene_image())
    moved = FEATS(scene_image(objects=(OBJECTS[0].__class__("circle", "red", "large", 0.7, 0.7),) + OBJECTS[1:]))
    recolored = FEATS(scene_image(objects=(SceneObject("circle", "green", "large", 0.3, 0.3),) + OBJECTS[1:]))
    beige = FEATS(scene_image(background="beige"))
    for other in (moved, recolored, beige):
        assert np.abs(base - other).max() > 0.05


def test_uniform_image_reads_its_colour():
    for name, rgb in list(vocab.COLORS.items())[:3] + [("bg.mint", vocab.BACKGROUNDS["mint"])]:
        img = np.empty((96, 160, 3), dtype=np.uint8)
        img[:] = rgb
        v = FEATS(img)
        np.testing.assert_allclose(v[:192].reshape(8, 8, 3), np.broadcast_to(np.array(rgb) / 255, (8, 8, 3)), atol=1e-6)
        assert v[idx(f"frac.{name}")] == 1.0
        assert v[idx("edges.weak")] == v[idx("noise")] == v[idx("hf_energy")] == v[idx("lum.std")] == 0.0
    assert FEATS(img)[idx("frac.background")] == 1.0


def test_palette_fractions_sum_to_one_and_track_content():
    v = FEATS(scene_image())
    fr = [n for n in FEATS.names if n.startswith("frac.") and n != "frac.background"]
    assert len(fr) == 16
    assert sum(v[idx(n)] for n in fr) == pytest.approx(1.0, abs=1e-5)
    assert v[idx("frac.red")] > v[idx("frac.blue")] > 0  # large red circle, small blue square
    assert v[idx("frac.green")] == 0.0
    assert v[idx("frac.bg.gray")] > 0.8


def test_noise_feature_tracks_the_noise_artefact():
    readings = [FEATS(scene_image(noise=n, artifact_seed=2))[idx("noise")] for n in (0.0, 0.02, 0.1, 0.3)]
    assert readings[0] == 0.0
    assert readings == sorted(readings) and readings[-1] > readings[1] + 0.3
    # About 2 * noise (see NOISE_SCALE).
    assert readings[2] == pytest.approx(0.2, abs=0.05)


def test_styles_leave_a_trace():
    plain = FEATS(scene_image())
    water = FEATS(scene_image(style="watercolor"))
    sketch = FEATS(scene_image(style="sketch"))
    assert water[idx("edges.strong")] < plain[idx("edges.strong")] - 0.05  # soft edges
    assert sketch[idx("frac.background")] > plain[idx("frac.background")] + 0.03  # outlines only


def test_features_barely_depend_on_canvas_size():
    for style in ("plain", "watercolor"):
        small = FEATS(scene_image(128, style=style, noise=0.05, artifact_seed=3))
        large = FEATS(scene_image(1024, style=style, noise=0.05, artifact_seed=3))
        assert np.abs(small - large).max() < 0.06


def test_accepts_pil_images_and_any_size_in_range():
    from PIL import Image

    img = scene_image()
    np.testing.assert_array_equal(FEATS(Image.fromarray(img)), FEATS(img))
    np.testing.assert_array_equal(FEATS(Image.fromarray(img).convert("RGBA")), FEATS(img))
    for h, w in [(MIN_SIDE, MIN_SIDE), (64, 1024), (1024, 64), (333, 517)]:
        v = FEATS(np.zeros((h, w, 3), dtype=np.uint8))
        assert v.shape == (215,) and v[idx("frac.black")] == 1.0


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((128, 128, 3), dtype=np.float32), "dtype uint8"),
        (np.full((128, 128, 3), np.nan), "NaN"),
        (np.zeros((128, 128), dtype=np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((128, 128, 4), dtype=np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((3, 128, 128), dtype=np.uint8), r"shape \(H, W, 3\)"),
        (np.zeros((32, 128, 3), dtype=np.uint8), "sides must be in"),
        (np.zeros((128, MAX_SIDE + 1, 3), dtype=np.uint8), "sides must be in"),
        (np.zeros((128, 128, 3), dtype=bool), "dtype uint8"),
        ([[[0, 0, 0]]], "numpy uint8 array"),
        (None, "numpy uint8 array"),
    ],
)
def test_bad_input_raises_clear_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        FEATS(bad)


@pytest.mark.parametrize("kwargs", [{"thumb": 0}, {"thumb": 33}, {"grid": 8}, {"thumb": 2.0}, {"grid": True}])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        ImageFeatures(**kwargs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(MIN_SIDE, 1024),
    w=st.integers(MIN_SIDE, 1024),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["uniform", "noise", "blocks", "extreme"]),
)
def test_random_images_stay_in_bounds(h, w, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        img = np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (h, w, 3)).copy()
    elif kind == "noise":
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif kind == "blocks":
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        img = small[np.arange(h) * 8 // h][:, np.arange(w) * 8 // w]
    else:  # checkerboard of black and white: maximal edges
        img = np.where(((np.arange(h)[:, None] + np.arange(w)[None, :]) % 2)[..., None] == 1, 255, 0).astype(np.uint8)
        img = np.broadcast_to(img, (h, w, 3)).copy()
    v = FEATS(img)
    assert v.shape == (FEATS.dim,) and v.dtype == np.float32
    assert np.all(np.isfinite(v)) and v.min() >= 0.0 and v.max() <= 1.0
    # The thumbnail is the exact area average.
    rb, cb = (np.arange(9) * h) // 8, (np.arange(9) * w) // 8
    ref = np.array(
        [[img[rb[i] : rb[i + 1], cb[j] : cb[j + 1]].reshape(-1, 3).mean(0) for j in range(8)] for i in range(8)]
    )
    np.testing.assert_allclose(v[:192], ref.ravel() / 255, atol=1e-5)


def test_speed_is_well_under_a_millisecond_at_128():
    """Loose guard against regressions (measured ~0.13 ms; see docs/encoders.md)."""
    img = scene_image(noise=0.05, artifact_seed=1)
    for _ in range(20):
        FEATS(img)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(100):
            FEATS(img)
        best = min(best, (time.perf_counter() - t) / 100)
    assert best < 2e-3
