"""Scenes, geometry and the renderer: validation, determinism, and what styles do to pixels."""

import numpy as np
import pytest

from poser_env.world import vocab
from poser_env.world.geometry import relations_between, shape_half_extent, unit_polygon
from poser_env.world.render import render
from poser_env.world.scene import DEFAULT_CANVAS, Scene, SceneError, SceneObject, check_canvas


def scene(**kw):
    objs = kw.pop(
        "objects", (SceneObject("circle", "red", "large", 0.3, 0.3), SceneObject("square", "blue", "small", 0.7, 0.7))
    )
    return Scene(objects=objs, **kw)


def test_render_shape_dtype_and_determinism():
    s = scene(noise=0.05, speckles=4, artifact_seed=7)
    a, b = render(s), render(s)
    assert a.shape == (DEFAULT_CANVAS, DEFAULT_CANVAS, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, render(s.replace(artifact_seed=8)))


def test_render_returns_fresh_arrays():
    s = scene()
    a = render(s)
    a[:] = 0
    assert render(s).max() > 0


@pytest.mark.parametrize("canvas", [64, 100, 128, 257, 512])
def test_render_any_allowed_canvas(canvas):
    img = render(scene(style="pixel-art"), canvas)
    assert img.shape == (canvas, canvas, 3)


@pytest.mark.parametrize("bad", [0, 10, 63, 1025, 128.0, "128", True, None])
def test_canvas_out_of_range_is_a_clear_error(bad):
    with pytest.raises(SceneError, match="canvas size"):
        check_canvas(bad)
    with pytest.raises(SceneError):
        render(scene(), bad)


def test_object_colour_painted_at_centre_and_background_at_corner():
    for color, rgb in vocab.COLORS.items():
        for bg, bg_rgb in vocab.BACKGROUNDS.items():
            img = render(Scene((SceneObject("square", color, "large", 0.5, 0.5),), background=bg))
            assert tuple(img[64, 64]) == rgb
            assert tuple(img[2, 2]) == bg_rgb


def test_sketch_draws_outlines_only_and_watercolor_blurs():
    o = (SceneObject("square", "red", "large", 0.5, 0.5),)
    plain = render(Scene(o))
    sketch = render(Scene(o, style="sketch"))
    water = render(Scene(o, style="watercolor"))
    assert tuple(sketch[64, 64]) == vocab.BACKGROUNDS[vocab.DEFAULT_BACKGROUND]
    assert (sketch == plain).all(axis=2).sum() > (plain != sketch).any(axis=2).sum()
    # Blur makes intermediate colours that flat rendering never has.
    assert len(np.unique(water.reshape(-1, 3), axis=0)) > 10 * len(np.unique(plain.reshape(-1, 3), axis=0))


def test_pixel_art_is_blocky():
    img = render(Scene((SceneObject("circle", "red", "large", 0.5, 0.5),), style="pixel-art"))
    assert (img[0::2] == img[1::2]).all() and (img[:, 0::2] == img[:, 1::2]).all()


def test_hexagon_is_wider_than_tall_and_circle_is_round():
    hw, hh = shape_half_extent("hexagon", "small")
    assert hw / hh == pytest.approx(2 / np.sqrt(3), rel=1e-6)
    cw, ch = shape_half_extent("circle", "small")
    assert cw == pytest.approx(ch)
    for s in vocab.SHAPES:
        p = unit_polygon(s)
        assert np.abs(p).max() == pytest.approx(1.0)


def test_large_is_larger_than_small():
    for s in vocab.SHAPES:
        assert shape_half_extent(s, "large")[0] > shape_half_extent(s, "small")[0]


def test_geneval_relation_rule():
    a = (0.1, 0.4, 0.2, 0.5)
    b = (0.6, 0.4, 0.7, 0.5)
    assert relations_between(a, b) == {"left of"}
    assert relations_between(b, a) == {"right of"}
    up = (0.1, 0.1, 0.2, 0.2)
    assert relations_between(up, a) == {"above"}
    assert relations_between(a, up) == {"below"}
    # Centres closer than the margin: no relation at all.
    assert relations_between((0.40, 0.4, 0.5, 0.5), (0.41, 0.4, 0.51, 0.5)) == set()
    # Diagonal: both directions.
    assert relations_between((0.0, 0.0, 0.1, 0.1), (0.8, 0.8, 0.9, 0.9)) == {"left of", "above"}


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: SceneObject("cube", "red"), "unknown shape 'cube'; allowed: circle, square"),
        (lambda: SceneObject("circle", "teal"), "unknown colour 'teal'; allowed: red"),
        (lambda: SceneObject("circle", "red", "huge"), "unknown size 'huge'; allowed: small, large"),
        (lambda: SceneObject("circle", "red", "small", 1.5, 0.5), "fraction in"),
        (lambda: Scene(style="cubist"), "unknown style 'cubist'; allowed: plain, pixel-art"),
        (lambda: Scene(background="red"), "unknown background 'red'; allowed: gray"),
        (lambda: Scene(noise=2.0), "noise must be"),
        (lambda: Scene(speckles=-1), "speckles must be"),
    ],
)
def test_bad_specifications_name_the_allowed_values(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_style_spellings_are_accepted():
    assert Scene(style="watercolour").style == "watercolor"
    assert Scene(style="Pixel Art").style == "pixel-art"


def test_scene_dict_round_trip_and_errors():
    s = scene(background="mint", style="sketch", noise=0.02, speckles=3, artifact_seed=5)
    assert Scene.from_dict(s.to_dict()) == s
    with pytest.raises(SceneError, match="unknown scene field"):
        Scene.from_dict({**s.to_dict(), "colour": "red"})
    with pytest.raises(SceneError, match="needs 'shape' and 'color'"):
        Scene.from_dict({"objects": [{"shape": "circle"}]})
    with pytest.raises(SceneError, match="must be a dict"):
        Scene.from_dict([])
