"""The pixel detector: round trips through the renderer, robustness, and input validation."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup, Relation, answer, relation_check
from poser_env.world.detect import detect
from poser_env.world.geometry import relations_between
from poser_env.world.layout import LayoutError, place
from poser_env.world.render import render
from poser_env.world.scene import DEFAULT_CANVAS, MAX_CANVAS, MIN_CANVAS, DetectedScene, Scene, SceneObject

STYLES = vocab.STYLES


def one(obj: SceneObject, **kw) -> DetectedScene:
    return detect(render(Scene((obj,), **kw)))


def assert_valid(seen: DetectedScene) -> None:
    assert isinstance(seen, DetectedScene)
    assert seen.background in vocab.BACKGROUNDS and seen.style in vocab.STYLES
    assert seen.noise >= 0 and isinstance(seen.speckles, int) and seen.speckles >= 0
    for o in seen.objects:
        assert o.shape in vocab.SHAPES and o.color in vocab.COLORS and o.size in vocab.SIZES
        assert -0.2 <= o.x <= 1.2 and -0.2 <= o.y <= 1.2
        x0, y0, x1, y1 = o.bbox
        assert x0 < o.x < x1 and y0 < o.y < y1


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("shape", vocab.SHAPES)
def test_every_shape_in_every_style_and_size(shape, style):
    for size, (x, y) in (("small", (0.31, 0.62)), ("large", (0.58, 0.44))):
        seen = one(SceneObject(shape, "blue", size, x, y), style=style, background="beige")
        assert [(o.shape, o.color, o.size) for o in seen.objects] == [(shape, "blue", size)]
        o = seen.objects[0]
        assert abs(o.x - x) < 0.01 and abs(o.y - y) < 0.01
        assert seen.background == "beige" and seen.clean
        if shape == "square" and style in ("plain", "pixel-art"):
            # A lone plain square whose edges fall on the block grid *is* pixel-art.
            assert seen.style in ("plain", "pixel-art")
        else:
            assert seen.style == style


@pytest.mark.parametrize("style", STYLES)
def test_every_colour_on_every_background(style):
    for color in vocab.COLORS:
        for bg in vocab.BACKGROUNDS:
            seen = one(SceneObject("hexagon", color, "small", 0.5, 0.5), style=style, background=bg)
            assert [(o.shape, o.color) for o in seen.objects] == [("hexagon", color)], (color, bg)
            assert seen.background == bg


def test_hexagon_and_circle_are_told_apart_everywhere():
    rng = np.random.default_rng(3)
    for style in STYLES:
        for _ in range(6):
            x, y = rng.uniform(0.2, 0.8, size=2)
            for shape in ("hexagon", "circle"):
                seen = one(SceneObject(shape, "white", "small", float(x), float(y)), style=style, background="lavender")
                assert seen.objects[0].shape == shape, (style, x, y)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("rel", vocab.RELATIONS)
def test_every_relation_reads_back(style, rel):
    a, b = SceneObject("star", "red", "small", 0.5, 0.5), SceneObject("square", "green", "large", 0.5, 0.5)
    dx, dy = {"left of": (-0.25, 0), "right of": (0.25, 0), "above": (0, -0.25), "below": (0, 0.25)}[rel]
    scene = Scene((a.moved(0.5 + dx, 0.5 + dy), b), style=style, background="mint")
    seen = detect(render(scene))
    check = relation_check(Relation(ObjectGroup("star", "red"), rel, ObjectGroup("square", "green")))
    inverse = relation_check(
        Relation(ObjectGroup("star", "red"), vocab.INVERSE_RELATION[rel], ObjectGroup("square", "green"))
    )
    assert answer(check, scene) and answer(check, seen)
    assert not answer(inverse, scene) and not answer(inverse, seen)


def test_boxes_follow_the_scene_convention():
    rng = np.random.default_rng(0)
    items = [
        ("triangle", "red", "small"),
        ("heart", "blue", "large"),
        ("circle", "yellow", "small"),
        ("star", "black", "large"),
    ]
    objs = place(items, rng)
    seen = detect(render(Scene(tuple(objs), background="sky blue")))
    by_name = {(o.shape, o.color): o for o in seen.objects}
    for a in objs:
        d = by_name[(a.shape, a.color)]
        assert np.allclose(d.bbox, a.bbox, atol=1.5 / DEFAULT_CANVAS)
        for b in objs:
            if b is not a:
                db = by_name[(b.shape, b.color)]
                assert relations_between(d.bbox, db.bbox) == relations_between(a.bbox, b.bbox)


def test_crowded_scenes_read_back_in_every_style():
    rng = np.random.default_rng(1)
    for style in STYLES:
        for _ in range(3):
            items = [(str(rng.choice(vocab.SHAPES)), str(rng.choice(list(vocab.COLORS))), "small") for _ in range(8)]
            objs = place(items, rng)
            seen = detect(render(Scene(tuple(objs), background="gray", style=style)))
            got = sorted((o.shape, o.color, o.size) for o in seen.objects)
            assert got == sorted((o.shape, o.color, o.size) for o in objs)


def test_artefacts_are_seen_and_clean_images_are_clean():
    objs = (SceneObject("circle", "red", "large", 0.3, 0.3), SceneObject("square", "blue", "small", 0.7, 0.7))
    for style in STYLES:
        base = Scene(objs, style=style)
        assert detect(render(base)).clean
        noisy = detect(render(base.replace(noise=0.03, artifact_seed=1)))
        assert not noisy.clean and noisy.noise == pytest.approx(0.03, abs=0.01)
        specks = detect(render(base.replace(speckles=3, artifact_seed=2)))
        assert specks.noise == 0 and specks.speckles >= 1 and not specks.clean
        # Artefacts do not change what the objects are.
        for seen in (noisy, specks):
            assert sorted((o.shape, o.color, o.size) for o in seen.objects) == [
                ("circle", "red", "large"),
                ("square", "blue", "small"),
            ]


@pytest.mark.parametrize("style", STYLES)
def test_a_single_speck_on_or_against_an_object_is_seen(style):
    # The renderer never paints a speck the colour of what it touches, so even one speck
    # that lands on an object (or in a sketch's hollow) keeps the image visibly unclean.
    base = Scene((SceneObject("square", "red", "large", 0.5, 0.5),), style=style)
    clean = render(base)
    on_object = 0
    for seed in range(80):
        img = render(base.replace(speckles=1, artifact_seed=seed))
        speck = (img != clean).any(axis=2)
        if (clean[speck] != vocab.BACKGROUNDS["gray"]).any() or (abs(np.argwhere(speck).mean(0) - 64) < 16).all():
            on_object += 1
            assert not detect(img).clean, seed
    assert on_object >= 3


def test_empty_and_speckle_only_images():
    seen = detect(render(Scene((), background="mint")))
    assert seen.objects == [] and seen.background == "mint" and seen.clean
    seen = detect(render(Scene((), background="mint", speckles=5, artifact_seed=3)))
    assert seen.objects == [] and seen.speckles >= 1


@pytest.mark.parametrize("canvas", [MIN_CANVAS, 96, 200, 333])
def test_other_canvas_sizes(canvas):
    objs = (SceneObject("hexagon", "orange", "large", 0.3, 0.35), SceneObject("triangle", "purple", "small", 0.7, 0.7))
    for style in ("plain", "sketch", "watercolor"):
        seen = detect(render(Scene(objs, style=style, background="beige"), canvas))
        assert sorted((o.shape, o.color, o.size) for o in seen.objects) == [
            ("hexagon", "orange", "large"),
            ("triangle", "purple", "small"),
        ]
        assert seen.style == style


def test_largest_canvas():
    objs = (SceneObject("star", "green", "small", 0.3, 0.3), SceneObject("circle", "pink", "large", 0.7, 0.6))
    seen = detect(render(Scene(objs, style="pixel-art", noise=0.04, speckles=6, artifact_seed=5), MAX_CANVAS))
    assert sorted((o.shape, o.color, o.size) for o in seen.objects) == [
        ("circle", "pink", "large"),
        ("star", "green", "small"),
    ]
    assert seen.style == "pixel-art" and not seen.clean


@st.composite
def scenes(draw, canvases=(MIN_CANVAS, 100, DEFAULT_CANVAS, 160)):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(0, 9))
    items = [
        (str(rng.choice(vocab.SHAPES)), str(rng.choice(list(vocab.COLORS))), str(rng.choice(list(vocab.SIZES))))
        for _ in range(n)
    ]
    try:
        objs = place(items, rng)
    except LayoutError:
        objs = []
    scene = Scene(
        tuple(objs),
        background=draw(st.sampled_from(list(vocab.BACKGROUNDS))),
        style=draw(st.sampled_from(STYLES)),
        noise=draw(st.sampled_from([0.0, 0.0, 0.01, 0.05, 0.08, 0.3])),
        speckles=draw(st.integers(0, 20)),
        artifact_seed=seed,
    )
    return scene, draw(st.sampled_from(canvases))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_random_scenes_never_crash(sc):
    scene, canvas = sc
    seen = detect(render(scene, canvas))
    assert_valid(seen)
    if scene.clean and scene.style != "pixel-art":
        assert seen.clean


@settings(max_examples=40, deadline=None)
@given(
    st.integers(16, 160),
    st.integers(16, 160),
    st.integers(0, 2**31 - 1),
    st.sampled_from(["uniform", "blocks", "constant", "binary"]),
)
def test_garbage_images_never_crash(h, w, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    elif kind == "blocks":
        small = rng.integers(0, 256, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        img = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)[:h, :w]
    elif kind == "constant":
        img = np.full((h, w, 3), rng.integers(0, 256), dtype=np.uint8)
    else:
        img = (rng.random((h, w, 1)) < 0.5).astype(np.uint8).repeat(3, axis=2) * 255
    assert_valid(detect(img))


@pytest.mark.parametrize("canvas", [MIN_CANVAS, MAX_CANVAS])
def test_extreme_canvases_with_artefacts_never_crash(canvas):
    rng = np.random.default_rng(canvas)
    items = [(s, c, "large") for s, c in zip(vocab.SHAPES, vocab.COLORS)]
    scene = Scene(tuple(place(items, rng)), style="watercolor", noise=0.08, speckles=12, artifact_seed=9)
    assert_valid(detect(render(scene, canvas)))


def test_float_and_pil_inputs_match_uint8():
    img = render(Scene((SceneObject("heart", "pink", "large", 0.4, 0.6),), background="sky blue"))
    ref = detect(img)
    for other in (img / 255.0, img.astype(np.float32) / 255.0, img.astype(np.int64), Image.fromarray(img)):
        seen = detect(other)
        assert [(o.shape, o.color, o.size) for o in seen.objects] == [(o.shape, o.color, o.size) for o in ref.objects]
        assert seen.background == ref.background


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((64, 64), np.uint8), "H x W x 3"),
        (np.zeros((2, 64, 64, 3), np.uint8), "H x W x 3"),
        (np.zeros((64, 64, 4), np.uint8), "3 channels"),
        (np.zeros((64, 64, 1), np.uint8), "3 channels"),
        (np.full((64, 64, 3), np.nan), "NaN"),
        (np.full((64, 64, 3), np.inf), "NaN or infinite"),
        (np.full((64, 64, 3), 2.0), r"\[0, 1\]"),
        (np.full((64, 64, 3), -1, np.int32), r"\[0, 255\]"),
        (np.full((64, 64, 3), 300, np.int32), r"\[0, 255\]"),
        (np.zeros((64, 64, 3), bool), "numeric"),
        (np.full((64, 64, 3), "a"), "numeric"),
        (np.zeros((8, 64, 3), np.uint8), "too small"),
        ([[1, 2], [3]], "array-like|numeric|dimension"),
        ("not an image", "numeric|dimension"),
    ],
)
def test_bad_inputs_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        detect(bad)


def test_cached_readings_are_copies_and_follow_the_pixels():
    from poser_env.world.render import render as draw
    from poser_env.world.scene import Scene, SceneObject

    image = draw(Scene((SceneObject("circle", "red", "large", 0.5, 0.5),)), 128)
    first = detect(image)
    first.objects.clear()
    first.background = "black"
    again = detect(image)
    assert [o.shape for o in again.objects] == ["circle"] and again.background != "black"
    assert detect(draw(Scene(), 128)).objects == []  # other pixels, another reading
